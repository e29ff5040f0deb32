// `meshca rotate finish`: drops the old root from the trust bundle, once no certificate issued under
// it can still be presented (meshca knows the latest expiry it issued under each root).
import { invalidInput, unavailable } from '../../errors.js';
import { dataDirRotationStore } from './data-dir-rotation.js';
import type { RotationStore } from './rotation-home.js';
import { rotationProgress } from './rotation-progress.js';
import type { RotationState } from './rotation-state.js';

export async function finishRotation(opts: {
  /** The data directory's store unless `store` is given. */
  dataDir?: string;
  store?: RotationStore;
  now?: Date;
}): Promise<{ state: RotationState }> {
  const store = opts.store ?? dataDirRotationStore(opts.dataDir!);
  const now = opts.now ?? new Date();
  const state = await store.readState();
  if (state?.phase !== 'activated') {
    throw invalidInput(
      'ROTATION_NOT_PREPARED',
      state?.phase === 'prepared'
        ? 'the rotation is prepared but not activated: the old intermediate still signs; run "meshca rotate activate" first'
        : state?.phase === 'finished'
          ? `the rotation is already finished (since ${state.finishedAt})`
          : 'there is no rotation to finish; it starts with "meshca rotate prepare --new-cacerts DIR"',
    );
  }
  const { oldRootCertificatesUntil: until } = rotationProgress(state, await store.readRecords(), now);
  if (until) {
    throw unavailable(
      'ROTATION_OLD_CERTIFICATES_VALID',
      `certificates issued under the old root are valid until ${until.toISOString()}; removing that root now would make workloads refuse them. Run "meshca rotate finish" again after that time`,
    );
  }
  const next: RotationState = {
    ...state,
    phase: 'finished',
    revision: state.revision + 1,
    finishedAt: now.toISOString(),
  };
  await store.writeState(next);
  return { state: next };
}
