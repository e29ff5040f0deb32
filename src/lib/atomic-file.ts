// Files that must survive a crash: written to a temp file, fsynced, renamed into place, so a
// reader sees the old content or the new, never half. Private keys get mode 0600, in directories
// made 0700; a full disk is reported as such (exit 3), not as a bug.
import { constants } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { diskFullError } from './disk-full.js';
import {
  makeDirectoriesExactly,
  PRIVATE_DIRECTORY_MODE,
  PUBLIC_DIRECTORY_MODE,
} from './make-private-directory.js';
import { releaseTemporaryName, temporaryName } from './temporary-name.js';

export const PRIVATE_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;

/** A directory made to hold a file others may not read is closed to them too. */
function directoryModeFor(fileMode: number): number {
  return (fileMode & 0o077) === 0 ? PRIVATE_DIRECTORY_MODE : PUBLIC_DIRECTORY_MODE;
}

async function writeTemp(temp: string, data: string | Uint8Array, mode: number): Promise<void> {
  await makeDirectoriesExactly(dirname(temp), directoryModeFor(mode));
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or widened what open() set
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {}); // half a key must not stay behind (a full disk, say)
    throw err;
  }
  await handle.close();
}

/** fsyncs a directory, so a rename or a new file in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Runs one write with a fresh temp name beside `path`, mapping a full disk to an error naming `path`. */
async function withTemp<T>(path: string, write: (temp: string) => Promise<T>): Promise<T> {
  const name = temporaryName(basename(path));
  try {
    return await write(join(dirname(path), name));
  } catch (err) {
    throw diskFullError(err, path) ?? err;
  } finally {
    releaseTemporaryName(name);
  }
}

/** Replaces `path` atomically with `data`. */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = PUBLIC_FILE_MODE,
): Promise<void> {
  return withTemp(path, async (temp) => {
    await writeTemp(temp, data, mode);
    try {
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    await syncDir(dirname(path));
  });
}

/**
 * Creates `path` with `data` only if it does not exist yet, atomically: returns false (and writes
 * nothing) when another writer got there first. Two processes racing to create the same file
 * therefore agree on one content.
 */
export function createFileExclusive(
  path: string,
  data: string | Uint8Array,
  mode = PUBLIC_FILE_MODE,
): Promise<boolean> {
  return withTemp(path, async (temp) => {
    await writeTemp(temp, data, mode);
    try {
      await link(temp, path); // link() fails with EEXIST instead of replacing, unlike rename()
      await syncDir(dirname(path));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await unlink(temp).catch(() => {});
    }
  });
}
