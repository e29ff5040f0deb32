// What the figures were measured on and with: CPU, cores, versions, the commit, and whether the
// compiled CLI under test is older than the source.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO } from './servers.js';

function git(args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

function newestMtime(dir: string, suffix: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, suffix));
    else if (entry.name.endsWith(suffix)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when some src/*.ts is newer than the oldest-possible build output we run. */
export function distIsStale(): boolean {
  try {
    return newestMtime(join(REPO, 'src'), '.ts') > newestMtime(join(REPO, 'dist', 'src'), '.js');
  } catch {
    return true;
  }
}

export function machineInfo(): Record<string, unknown> {
  const cpuModel =
    /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ??
    cpus()[0]?.model ??
    'unknown';
  const status = git(['status', '--porcelain']);
  return {
    date: new Date().toISOString(),
    gitCommit:
      git(['rev-parse', '--short=12', 'HEAD']) +
      (status && status !== 'unknown' ? ' (uncommitted changes)' : ''),
    cpuModel,
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.versions.node,
    openssl: process.versions.openssl,
  };
}
