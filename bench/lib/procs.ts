// Child processes for the benchmark: started pinned to cores with taskset, tracked so every one is
// killed on exit or Ctrl-C, and measured from /proc (CPU ticks of all threads, resident memory).
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';

const running = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];

/** Kills every child still running (SIGKILL: this runs on the way out, nothing waits). */
export function killAll(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // best effort on the way out
    }
  }
}

/** Runs `fn` on exit (after the children are killed), e.g. to remove the temp directory. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

let installed = false;
/** Ctrl-C, SIGTERM and any exit path leave no process behind. */
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
      killAll();
      process.exit(130);
    });
  }
}

/** `taskset -c <cpus> command args…` (or unpinned when cpus is null); the child's pid is the command's. */
export function spawnPinned(
  cpus: string | null,
  command: string,
  args: string[],
  opts: SpawnOptions = {},
): ChildProcess {
  const child =
    cpus === null ? spawn(command, args, opts) : spawn('taskset', ['-c', cpus, command, ...args], opts);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Moves every thread of `pid` to `cpus` (taskset -a: Node and Go both run several threads). */
export function repin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Stops a child politely, then forcefully; resolves when it is gone. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

let clockTicks: number | undefined;
/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux, but asked, not assumed). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function cpuMicrosOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // The command name (field 2) may contain spaces and parentheses; fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1e6) / clockTicksPerSecond();
}

/**
 * `pid` and every process below it: a `meshca serve --workers N` primary and its workers count as
 * one server. Read from /proc/<pid>/task/<tid>/children (a process's children hang off its threads).
 */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${tree[i]}/task`);
    } catch {
      continue; // it exited between listing and reading
    }
    for (const tid of tids) {
      try {
        const children = readFileSync(`/proc/${tree[i]}/task/${tid}/children`, 'utf8').trim();
        if (children) tree.push(...children.split(/\s+/).map(Number));
      } catch {
        // the thread ended between listing and reading
      }
    }
  }
  return tree;
}

/** User + system CPU time of every thread of `pid` and of its descendants so far, in microseconds. */
export function processCpuMicros(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += cpuMicrosOf(`/proc/${p}/stat`);
    } catch {
      // exited between listing and reading
    }
  }
  return total;
}

/**
 * The same split between main threads (tid = pid: each Node process's event loop, summed over the
 * tree) and all other threads (libuv pool, where WebCrypto jobs run; V8's GC helpers). Node 20
 * names them all "node".
 */
export function threadCpuMicros(pid: number): { main: number; others: number } {
  let main = 0;
  let all = 0;
  for (const p of processTree(pid)) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const us = cpuMicrosOf(`/proc/${p}/task/${tid}/stat`);
        all += us;
        if (tid === String(p)) main += us;
      } catch {
        // the thread ended between listing and reading
      }
    }
  }
  return { main, others: all - main };
}

/**
 * Resident set size now and at its peak, in MB (from /proc/<pid>/status), summed over `pid` and its
 * descendants; `processes` says how many that was.
 */
export function processMemoryMb(pid: number): { rssMb: number; peakMb: number; processes: number } {
  let rssMb = 0;
  let peakMb = 0;
  let processes = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      rssMb += kb('VmRSS') / 1024;
      peakMb += kb('VmHWM') / 1024;
      processes++;
    } catch {
      // exited between listing and reading
    }
  }
  return { rssMb, peakMb, processes };
}

/** A TCP port free right now on 127.0.0.1 (for servers that cannot report an ephemeral port). */
export { freePort } from '../../peers/harness/free-port.js';

/** Resolves once 127.0.0.1:port accepts connections, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `the process exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls a text file (a server's log) until a line satisfies `match`. */
export async function waitForFileLine<T>(
  path: string,
  match: (line: string) => T | undefined,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      // not written yet
    }
    for (const line of text.split('\n')) {
      const found = match(line);
      if (found !== undefined) return found;
    }
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `the process exited (${child.exitCode ?? child.signalCode}); its log:\n${text.slice(-2000)}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`no matching line in ${path} after ${timeoutMs} ms:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
