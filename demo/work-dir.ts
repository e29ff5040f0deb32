// The directory a demo works in: a fresh temporary one, or an empty one the user names, and its
// removal afterwards (only what the demo made; a directory the user had stays, emptied).
import { mkdir, mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalidInput } from '../src/index.js';

export interface WorkDir {
  readonly path: string;
  /** Removes what the demo made here. */
  remove(): Promise<void>;
}

async function entries(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** `dir` (absolute) when given, else a new directory under the OS temp dir named `prefix…`. */
export async function prepareWorkDir(opts: { dir?: string; prefix: string }): Promise<WorkDir> {
  if (opts.dir === undefined) {
    // realpath: the printed paths and the children's view of them then agree (macOS /var → /private/var).
    const path = await realpath(await mkdtemp(join(tmpdir(), opts.prefix)));
    return { path, remove: () => rm(path, { recursive: true, force: true }) };
  }
  const dir = opts.dir;
  const existing = await entries(dir);
  // The demo makes keys and certificates with fixed names; refusing a used directory means it never
  // mixes with, or deletes, somebody's real CA files.
  if (existing && existing.length > 0) {
    throw invalidInput(
      'DEMO_DIR_NOT_EMPTY',
      `--dir ${dir} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); name a new or empty directory, or leave --dir out to use a temporary one`,
    );
  }
  await mkdir(dir, { recursive: true });
  const path = await realpath(dir);
  return {
    path,
    remove: async () => {
      if (!existing) {
        await rm(path, { recursive: true, force: true });
        return;
      }
      for (const name of (await entries(path)) ?? [])
        await rm(join(path, name), { recursive: true, force: true });
    },
  };
}
