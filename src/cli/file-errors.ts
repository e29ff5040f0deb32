// A file or directory the operator named that cannot be used is their mistake to fix, not a bug: this
// turns Node's errno errors into messages that name the path and say what to do. Commands read their
// inputs through readInputFile; anything else that escapes with an errno and a path is caught in main.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { configError, invalidInput, type MeshcaError } from '../errors.js';

const WHY: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'has a part that is a file, not a directory',
  EISDIR: 'is a directory, not a file',
  EACCES: 'is not accessible to this user (permission denied)',
  EPERM: 'may not be changed by this user (operation not permitted)',
  EROFS: 'is on a read-only file system',
  ENAMETOOLONG: 'is too long a name',
  ELOOP: 'has too many symbolic links',
  EEXIST: 'already exists',
  ENOSPC: 'is on a full file system (no space left)',
  EDQUOT: "is over this user's disk quota",
};

/** True for Node's file system errors (an errno code and, usually, a path). */
export function isFileError(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code in WHY;
}

/** "PATH does not exist" and friends; `what` names the path's role ("--token-file", "the data directory"). */
export function describeFileError(err: NodeJS.ErrnoException, path = err.path ?? '?', what?: string): string {
  const why =
    err.code === 'ENOENT' && err.syscall === 'mkdir'
      ? 'cannot be created there (no such place on that file system)'
      : (WHY[err.code ?? ''] ?? err.message);
  return `${what ? `${what} ` : ''}${path} ${why}`;
}

/** An error escaping a command with an errno: exit 3 with the path, never exit 70 with a stack. */
export function fileErrorToMeshcaError(err: NodeJS.ErrnoException): MeshcaError {
  const action = err.syscall ? ` (${err.syscall})` : '';
  return configError(
    'CLI_FILE_ERROR',
    `${describeFileError(err)}${action}; check the path and its permissions, then run the command again`,
    err,
  );
}

/** Reads a file the operator named with `flag`; a bad path is exit 2 naming the flag and `hint`. */
export async function readInputFile(cwd: string, path: string, flag: string, hint: string): Promise<string> {
  const full = resolve(cwd, path);
  try {
    return await readFile(full, 'utf8');
  } catch (err) {
    if (!isFileError(err)) throw err;
    throw invalidInput('CLI_INPUT_FILE', `${describeFileError(err, full, flag)}; ${hint}`, err);
  }
}
