// The phase of a staged root change, as `meshca rotate` records it: prepared (trust old + new, sign
// with old), activated (trust old + new, sign with new), finished (trust and sign with new).
import { readFile } from 'node:fs/promises';
import { configError } from '../../errors.js';
import { PUBLIC_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { rotationPaths } from './rotation-files.js';

export type RotationPhase = 'prepared' | 'activated' | 'finished';

export interface RotationState {
  phase: RotationPhase;
  /** Bumped by every command, so a command can see that the CA has applied its change. */
  revision: number;
  preparedAt: string;
  activatedAt?: string;
  finishedAt?: string;
  /** Set when activate was forced past pending identities: who was left behind. */
  forcedPast?: string[];
  /** SHA-256 fingerprints of the roots before the change (A) and of the new roots (B). */
  oldRoots: string[];
  newRoots: string[];
  /** The folder under rotation/ holding the copy of the new bundle; a new one per prepare. */
  bundleDir: string;
}

/** The recorded phase, or undefined when no rotation was ever prepared. */
export async function readRotationState(dataDir: string): Promise<RotationState | undefined> {
  const path = rotationPaths(dataDir).state;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseRotationState(text, path, `remove the ${rotationPaths(dataDir).dir} folder`);
}

/** A recorded plan from `where`; `abandon` says how to drop it when it is not readable. */
export function parseRotationState(text: string, where: string, abandon: string): RotationState {
  try {
    const state = JSON.parse(text) as RotationState;
    if (!['prepared', 'activated', 'finished'].includes(state.phase)) throw new TypeError('no phase');
    return state;
  } catch (err) {
    throw configError(
      'ROTATION_STATE_INVALID',
      `${where} is not a rotation state meshca wrote (${(err as Error).message}); restore it from a backup, or ${abandon} to abandon the rotation`,
      err,
    );
  }
}

export function writeRotationState(dataDir: string, state: RotationState): Promise<void> {
  return writeFileAtomic(
    rotationPaths(dataDir).state,
    `${JSON.stringify(state, null, 2)}\n`,
    PUBLIC_FILE_MODE,
  );
}
