// The one way tests make a private temporary directory: a fresh folder under the OS temp dir with
// helpers to name, write and read files in it, removed by remove() (e.g. in `after`).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  /** Absolute path of `name` inside the directory. */
  file(name: string): string;
  /** Writes `content` to `name` and returns its absolute path. */
  write(name: string, content: string | Buffer): string;
  read(name: string): string;
  remove(): void;
}

/** A fresh directory under the OS temp dir; call remove() (e.g. in `after`) to delete it. */
export function makeTempDir(prefix = 'meshca-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    write: (name, content) => {
      const file = join(path, name);
      writeFileSync(file, content);
      return file;
    },
    read: (name) => readFileSync(join(path, name), 'utf8'),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}
