// Which of the directories and files that hold private keys other users can get into: a data
// directory made by an older meshca under a loose umask, or a key copied in with `cp`.
import { stat } from 'node:fs/promises';

export interface LoosePermission {
  path: string;
  /** The mode found, in octal: `0755`. */
  mode: string;
  /** The command that fixes it: `chmod 700 PATH`. */
  fix: string;
  /** For the operator: the path, its mode and the fix. */
  message: string;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * Checks each existing path of `dirs` for 0700 at most and of `keys` for 0600 at most (group and
 * other bits off); missing or unreadable paths are skipped. Symlinks are followed: a Kubernetes
 * secret volume links each key to the file whose mode counts.
 */
export async function findLoosePermissions(
  entries: readonly { path: string; kind: 'dir' | 'key' }[],
): Promise<LoosePermission[]> {
  const loose: LoosePermission[] = [];
  for (const { path, kind } of entries) {
    const s = await stat(path).catch(() => undefined);
    if (!s || (s.mode & 0o077) === 0) continue;
    if (kind === 'dir' ? !s.isDirectory() : !s.isFile()) continue;
    const mode = octal(s.mode);
    const fix = `chmod ${kind === 'dir' ? '700' : '600'} ${path}`;
    const what =
      kind === 'dir'
        ? 'other users can look into this directory of private keys'
        : 'other users can read this private key';
    loose.push({ path, mode, fix, message: `${path} is mode ${mode}: ${what}; run "${fix}"` });
  }
  return loose;
}
