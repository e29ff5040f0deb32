// `mkdir -p` one level at a time. Node's recursive mkdir loops forever on some paths (under /proc it
// keeps getting ENOENT for a parent it believes it just made, at full CPU); making each missing level
// with a plain mkdir fails at once instead, with the errno of the level that cannot be made.
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Makes `path` and its missing parents with `mode` (still subject to the umask; chmod what must be
 * exact). Returns the directories made, outermost first; rejects with the first mkdir's errno error.
 */
export async function makeDirectories(path: string, mode = 0o755): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      const found = await stat(dir);
      if (!found.isDirectory()) {
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${resolve(path)}'`), {
          code: 'ENOTDIR',
          syscall: 'mkdir',
          path: resolve(path),
        });
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw err;
      missing.push(dir);
    }
  }
  const made: string[] = [];
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode });
      made.push(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // made meanwhile by another process
    }
  }
  return made;
}
