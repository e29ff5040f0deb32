// Housekeeping of the data directory when the CA starts: removes what interrupted writes left
// (temp files and directories that may hold keys) and warns about key directories and keys that
// other users can read. Logs both; changes no mode itself (the operator may have reasons).
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { CaMode } from './certificate-authority.js';
import { findLoosePermissions, type LoosePermission } from './find-loose-permissions.js';
import { ISTIO_FILES, TLS_FILES } from './read-bundle-files.js';
import { removeInterruptedWrites } from './remove-interrupted-writes.js';
import { removeSelfSignedCaLeftovers } from './self-signed-ca.js';

/**
 * The embedded token issuer's folder and files (identity/token-issuer.ts); named here because ca/
 * may not import identity/. The data directory's layout is in docs/architecture.md.
 */
const ISSUER = { dir: 'issuer', key: 'key.pem', jwks: 'jwks.json' } as const;
const CA_KEYS = [ISTIO_FILES.key, TLS_FILES.key];

export async function prepareDataDirectory(opts: {
  dataDir: string;
  ca: CaMode;
  log: Logger;
}): Promise<{ removed: string[]; loose: LoosePermission[] }> {
  const { dataDir, ca, log } = opts;
  const embeddedCa = join(dataDir, 'ca');
  const issuerDir = join(dataDir, ISSUER.dir);

  const removed = await removeSelfSignedCaLeftovers(embeddedCa);
  if (ca.kind === 'self-signed' && ca.dir !== embeddedCa)
    removed.push(...(await removeSelfSignedCaLeftovers(ca.dir)));
  removed.push(...(await removeInterruptedWrites(issuerDir, { files: [ISSUER.key, ISSUER.jwks] })));
  for (const path of removed)
    log.info(`removed ${path}, left behind by an interrupted write`, { event: 'leftover-removed', path });

  const keyDirs = [...new Set([embeddedCa, ...(ca.kind === 'store' ? [] : [ca.dir])])];
  const loose = await findLoosePermissions([
    { path: dataDir, kind: 'dir' },
    ...keyDirs.flatMap((dir) => [
      { path: dir, kind: 'dir' as const },
      ...CA_KEYS.map((key) => ({ path: join(dir, key), kind: 'key' as const })),
    ]),
    { path: issuerDir, kind: 'dir' },
    { path: join(issuerDir, ISSUER.key), kind: 'key' },
  ]);
  for (const l of loose)
    log.warn(l.message, { event: 'loose-permissions', path: l.path, mode: l.mode, fix: l.fix });
  return { removed, loose };
}
