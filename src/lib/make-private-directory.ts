// Directories made with a mode the umask cannot change. mkdir()'s mode is masked by the umask (under
// `umask 000` the default comes out 0777, under 0277 even 0500), so every directory that will hold
// keys or tokens is made here: made as makeDirectories makes it, then given its mode explicitly.
import { chmod } from 'node:fs/promises';
import { diskFullError } from './disk-full.js';
import { makeDirectories } from './make-directories.js';

export const PRIVATE_DIRECTORY_MODE = 0o700;
export const PUBLIC_DIRECTORY_MODE = 0o755;

/**
 * Makes `path` and its missing parents with exactly `mode`; directories that already exist keep
 * theirs (the operator's choice, or a current directory that is not ours). Returns the directories
 * made, outermost first.
 */
export async function makeDirectoriesExactly(path: string, mode: number): Promise<string[]> {
  try {
    // Asking mkdir for `mode` already keeps each directory closed between mkdir and chmod.
    const made = await makeDirectories(path, mode);
    for (const dir of made) await chmod(dir, mode);
    return made;
  } catch (err) {
    throw diskFullError(err, path) ?? err;
  }
}

/** A directory for keys or tokens: 0700 whatever the umask. */
export function makePrivateDirectory(path: string): Promise<string[]> {
  return makeDirectoriesExactly(path, PRIVATE_DIRECTORY_MODE);
}
