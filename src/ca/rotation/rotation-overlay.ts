// The CA's side of a staged root change: on every load, the recorded phase decides what the bundle
// of the CA's own files becomes (bundle-for-phase.ts). Reads the plan each time, so a restart or a
// reload lands in the same phase; a plan that cannot be applied refuses the reload, keeping the
// last good bundle in service.
import { join } from 'node:path';
import type { BundleOverlay } from '../certificate-authority.js';
import { loadBundleFromDir } from '../read-bundle-files.js';
import type { SigningBundle } from '../signing-bundle.js';
import { bundleForPhase, holdsNewRoots } from './bundle-for-phase.js';
import { rotationPaths } from './rotation-files.js';
import { type RotationState, readRotationState } from './rotation-state.js';

export interface RotationOverlay {
  overlay: BundleOverlay;
  /** The plan behind the bundle now in service; undefined when there is none. */
  applied(): RotationState | undefined;
  /** True once the CA's own files hold the new roots (the operator moved the new bundle in). */
  ownFilesHoldNewRoots(): boolean;
}

/** Where the plan and the copy of the new bundle are read from. */
export interface RotationPlanSource {
  readState(): Promise<RotationState | undefined>;
  loadNewBundle(state: RotationState): Promise<SigningBundle>;
}

export const dataDirPlanSource = (dataDir: string): RotationPlanSource => ({
  readState: () => readRotationState(dataDir),
  loadNewBundle: (state) => loadBundleFromDir(join(rotationPaths(dataDir).dir, state.bundleDir)),
});

/** The overlay of the plan in `source` (a data directory by default). */
export function createRotationOverlay(source: string | RotationPlanSource): RotationOverlay {
  const plan = typeof source === 'string' ? dataDirPlanSource(source) : source;
  let applied: RotationState | undefined;
  let ownHoldsNew = false;
  return {
    async overlay(own) {
      const state = await plan.readState();
      if (!state) {
        applied = undefined;
        return own;
      }
      const next = await plan.loadNewBundle(state);
      const bundle = bundleForPhase(state.phase, own, next);
      applied = state;
      ownHoldsNew = holdsNewRoots(own, next);
      return bundle;
    },
    applied: () => applied,
    ownFilesHoldNewRoots: () => ownHoldsNew,
  };
}
