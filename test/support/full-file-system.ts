// A real full file system for tests of ENOSPC: a 64 KiB tmpfs, filled up. Mounting needs root (the
// test machines and CI run as root); elsewhere `refused` says why, for the test's skip message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp-dir.js';

export interface FullFileSystem {
  /** The mount point; every write below it fails with ENOSPC. */
  path: string;
  /** Why it could not be mounted, or undefined when it is mounted. */
  refused: string | undefined;
  remove(): void;
}

export function mountFullFileSystem(prefix: string): FullFileSystem {
  const tmp = makeTempDir(prefix);
  const path = tmp.file('tmpfs');
  mkdirSync(path);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', path], {
    encoding: 'utf8',
  });
  const mounted = r.status === 0;
  if (mounted) {
    try {
      writeFileSync(join(path, 'filler'), Buffer.alloc(256 * 1024));
      assert.fail('a 64 KiB tmpfs took 256 KiB');
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
  }
  return {
    path,
    refused: mounted ? undefined : `mount -t tmpfs refused (${r.stderr || r.error?.message}): needs root`,
    remove() {
      if (mounted) spawnSync('umount', ['-l', path]);
      tmp.remove();
    },
  };
}
