// Where a staged root change keeps its state: the data directory's files or, in the Kubernetes home,
// the cluster's objects. The rotation logic (prepare, activate, finish, progress, bundle-for-phase)
// is written once against these two shapes: what the `meshca rotate` commands see, and what the
// running CA needs.
import type { CertificateInfo } from '../../pki/types.js';
import type { InServiceRecord } from './in-service-record.js';
import type { IssuanceRecorder, IssuanceRecords } from './issuance-records.js';
import type { RotationOverlay } from './rotation-overlay.js';
import type { RotationState } from './rotation-state.js';

/** The commands' view. */
export interface RotationStore {
  /** For messages, e.g. "data directory /srv/meshca" or "namespace istio-system". */
  readonly where: string;
  readState(): Promise<RotationState | undefined>;
  /**
   * Records `state`; with `newBundle` (prepare) also keeps a copy of the new bundle's files, the
   * key written private. Refused if another command changed the state since it was read.
   */
  writeState(
    state: RotationState,
    newBundle?: { files: Record<string, string>; keyFile: string },
  ): Promise<void>;
  /** Every CA process's issuance records, merged. */
  readRecords(): Promise<IssuanceRecords>;
  /** The roots the CA hands out now. */
  currentRoots(): Promise<CertificateInfo[]>;
  /** What each running CA process (replica) last reported; empty when none has. */
  inService(): Promise<InServiceRecord[]>;
  /** How the operator makes the new bundle the CA's own once a rotation is finished. */
  readonly moveInHint: string;
}

/** The running CA's view. */
export interface RotationInServiceHome {
  /** Shapes every load of the CA's bundle by the plan (rotation-overlay.ts). */
  rotation: RotationOverlay;
  /** This process's issuance records. */
  recorder: IssuanceRecorder;
  /** Every process's records, merged (for the pending-identities metric). */
  readRecords(): Promise<IssuanceRecords>;
  /** Calls `changed` whenever the plan may have changed. */
  watchPlan(changed: () => void): Promise<{ close(): void }>;
  /** Tells the commands what this process has in service. */
  writeInService(record: InServiceRecord): Promise<void>;
  close(): Promise<void>;
}
