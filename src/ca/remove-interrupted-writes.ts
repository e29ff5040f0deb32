// Removes what an interrupted atomic write left in one of meshca's directories: temp files (which
// may hold a private key) and the self-signed CA's temp directory. Only meshca's own temp names,
// only of the kind expected, and never one that may belong to a write still in flight.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isOwnTemporaryName, LEFTOVER_AGE_MS, parseTemporaryName } from '../lib/temporary-name.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/**
 * A crashed writer's leftover: not a write of this process, and its pid is gone or it is too old
 * to be a write in progress. Another live pid may be a concurrent start; without a pid (an earlier
 * version's name) only age tells.
 */
function isLeftover(name: string, pid: number | undefined, mtimeMs: number, now: number): boolean {
  if (isOwnTemporaryName(name)) return false;
  if (pid === process.pid || now - mtimeMs > LEFTOVER_AGE_MS) return true;
  return pid !== undefined && !isAlive(pid);
}

/**
 * Removes, in `dir`, the temp files of the names in `files` and the temp directories of the names
 * in `dirs`; returns the paths removed. A missing `dir` has nothing to remove.
 */
export async function removeInterruptedWrites(
  dir: string,
  opts: { files?: readonly string[]; dirs?: readonly string[] },
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const now = Date.now();
  const removed: string[] = [];
  for (const name of names.sort()) {
    const kinds: ('file' | 'dir')[] = [];
    let pid: number | undefined;
    for (const [bases, kind] of [
      [opts.files ?? [], 'file'],
      [opts.dirs ?? [], 'dir'],
    ] as const) {
      for (const base of bases) {
        const parsed = parseTemporaryName(name, base);
        if (parsed) {
          kinds.push(kind);
          pid = parsed.pid;
        }
      }
    }
    if (kinds.length === 0) continue;
    const path = join(dir, name);
    const stat = await lstat(path).catch(() => undefined);
    // lstat: a symlink is neither, so it is never followed.
    const kind = stat?.isFile() ? 'file' : stat?.isDirectory() ? 'dir' : undefined;
    if (!stat || kind === undefined || !kinds.includes(kind)) continue;
    if (!isLeftover(name, pid, stat.mtimeMs, now)) continue;
    await rm(path, { recursive: kind === 'dir', force: true });
    removed.push(path);
  }
  return removed;
}
