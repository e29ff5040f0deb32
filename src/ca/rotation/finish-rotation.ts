// `meshca rotate finish`: drops the old root from the trust bundle, once no certificate issued under
// it can still be presented (meshca knows the latest expiry it issued under each root).
import { invalidInput, unavailable } from '../../errors.js';
import { readIssuanceRecords } from './issuance-records.js';
import { rotationProgress } from './rotation-progress.js';
import { type RotationState, readRotationState, writeRotationState } from './rotation-state.js';

export async function finishRotation(opts: {
  dataDir: string;
  now?: Date;
}): Promise<{ state: RotationState }> {
  const now = opts.now ?? new Date();
  const state = await readRotationState(opts.dataDir);
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
  const { oldRootCertificatesUntil: until } = rotationProgress(
    state,
    await readIssuanceRecords(opts.dataDir),
    now,
  );
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
  await writeRotationState(opts.dataDir, next);
  return { state: next };
}
