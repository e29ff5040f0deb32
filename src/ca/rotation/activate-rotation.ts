// `meshca rotate activate`: from now on the new intermediate signs. Refused while an identity has
// not yet been given the new root (its workload would refuse every new certificate), unless forced.
import { invalidInput, unavailable } from '../../errors.js';
import { dataDirRotationStore } from './data-dir-rotation.js';
import type { RotationStore } from './rotation-home.js';
import { type RotationProgress, rotationProgress } from './rotation-progress.js';
import type { RotationState } from './rotation-state.js';

export function describePending(progress: RotationProgress): string {
  return progress.pending
    .map(
      (p) =>
        `  ${p.id} (last certificate ${p.lastIssued.toISOString()}, valid until ${p.notAfter.toISOString()})`,
    )
    .join('\n');
}

export async function activateRotation(opts: {
  /** The data directory's store unless `store` is given. */
  dataDir?: string;
  store?: RotationStore;
  force: boolean;
  now?: Date;
}): Promise<{ state: RotationState; progress: RotationProgress }> {
  const store = opts.store ?? dataDirRotationStore(opts.dataDir!);
  const now = opts.now ?? new Date();
  const state = await store.readState();
  if (state?.phase !== 'prepared') {
    throw invalidInput(
      'ROTATION_NOT_PREPARED',
      state?.phase === 'activated'
        ? `the rotation is already activated (since ${state.activatedAt}); "meshca rotate finish" is next`
        : 'there is no prepared rotation to activate; run "meshca rotate prepare --new-cacerts DIR" first',
    );
  }
  const progress = rotationProgress(state, await store.readRecords(), now);
  if (progress.pending.length > 0 && !opts.force) {
    throw unavailable(
      'ROTATION_PENDING',
      `${progress.pending.length} workload identit${progress.pending.length === 1 ? 'y has' : 'ies have'} not received the new root yet:\n${describePending(progress)}\nthey renew before ${progress.pendingUntil!.toISOString()} at the latest; run activate again then, or "activate --force" to break them`,
    );
  }
  const next: RotationState = {
    ...state,
    phase: 'activated',
    revision: state.revision + 1,
    activatedAt: now.toISOString(),
    ...(progress.pending.length > 0 ? { forcedPast: progress.pending.map((p) => p.id) } : {}),
  };
  await store.writeState(next);
  return { state: next, progress };
}
