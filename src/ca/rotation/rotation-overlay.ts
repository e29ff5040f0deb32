// The CA's side of a staged root change: on every load, the recorded phase decides what the bundle
// of the CA's own files becomes (bundle-for-phase.ts). Reads the plan each time, so a restart or a
// reload lands in the same phase; a plan that cannot be applied refuses the reload, keeping the
// last good bundle in service.
import { join } from 'node:path';
import type { BundleOverlay } from '../certificate-authority.js';
import { loadBundleFromDir } from '../read-bundle-files.js';
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

export function createRotationOverlay(dataDir: string): RotationOverlay {
  let applied: RotationState | undefined;
  let ownHoldsNew = false;
  return {
    async overlay(own) {
      const state = await readRotationState(dataDir);
      if (!state) {
        applied = undefined;
        return own;
      }
      const next = await loadBundleFromDir(join(rotationPaths(dataDir).dir, state.bundleDir));
      const bundle = bundleForPhase(state.phase, own, next);
      applied = state;
      ownHoldsNew = holdsNewRoots(own, next);
      return bundle;
    },
    applied: () => applied,
    ownFilesHoldNewRoots: () => ownHoldsNew,
  };
}
