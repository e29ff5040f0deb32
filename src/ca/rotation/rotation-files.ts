// Where a staged root change (issue #15) lives in the data-directory home. `meshca rotate` writes the
// plan (rotation/), the CA watches it; the CA writes what it sees and issues (ca-status/), the
// commands read it. One writer per folder, so neither ever overwrites the other's file.
import { join } from 'node:path';

export const ROTATION_DIR = 'rotation';
/** The phase, written atomically by the rotate commands. */
export const ROTATION_STATE_FILE = 'state.json';
/** A copy of the new bundle given to `prepare`, so the CA never depends on the operator's folder. */
export const ROTATION_BUNDLE_DIR = 'new-cacerts';
export const CA_STATUS_DIR = 'ca-status';
/** Per identity and per root: what the CA last issued (written by the CA, bounded). */
export const ISSUANCES_FILE = 'issuances.json';
/** The bundle in service and the rotation phase the CA applied (written by the CA). */
export const IN_SERVICE_FILE = 'in-service.json';

export const rotationPaths = (dataDir: string) => ({
  dir: join(dataDir, ROTATION_DIR),
  state: join(dataDir, ROTATION_DIR, ROTATION_STATE_FILE),
  bundle: join(dataDir, ROTATION_DIR, ROTATION_BUNDLE_DIR),
  statusDir: join(dataDir, CA_STATUS_DIR),
  issuances: join(dataDir, CA_STATUS_DIR, ISSUANCES_FILE),
  inService: join(dataDir, CA_STATUS_DIR, IN_SERVICE_FILE),
});
