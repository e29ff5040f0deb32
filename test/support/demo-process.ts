// Runs `meshca demo …` as a user would (a real process) and inspects what it leaves behind:
// its descendants from /proc, and whether the ports it printed still answer. Shared by the demo e2e tests.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliContext } from '../../src/cli/context.js';
import { killAfterTests } from './kill-after-tests.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_DEMO = join(ROOT, 'test', 'support', 'run-demo.ts');

export interface DemoProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

export function startDemo(args: string[], waitTimeoutMs = 60_000): DemoProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN_DEMO, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killAfterTests(child);
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: string) => {
    text += chunk;
    for (const l of listeners) l();
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve(code ?? (signal ? -1 : null));
    }),
  );
  return {
    child,
    output: () => text,
    exited,
    waitFor: (pattern, timeoutMs = waitTimeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(text);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`demo did not print ${pattern} within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`demo exited before printing ${pattern}; output:\n${text}`));
        });
        check();
      }),
  };
}

/** Every process below `pid`, from /proc (Linux): the demo's children and theirs. */
export function descendants(pid: number): Map<number, string> {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parentheses; the fields after the last ')' do not.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(name), ppid);
    } catch {
      // gone while we looked
    }
  }
  const found = new Map<number, string>();
  let frontier = [pid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [child, parent] of parentOf) {
      if (frontier.includes(parent) && !found.has(child)) {
        found.set(child, cmdline(child) ?? '');
        next.push(child);
      }
    }
    frontier = next;
  }
  return found;
}

export function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/** Still running as the same program (a zombie or a recycled pid does not count). */
export function stillRunning(pid: number, command: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && cmdline(pid) === command;
  } catch {
    return false;
  }
}

export function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Every port the demo printed (CAs, step-ca, httpbin, mesh and outbound ports). */
export function printedPorts(output: string): number[] {
  return [...output.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])).filter((p) => p > 0);
}

/** Every port the demo printed is closed. */
export async function assertPortsClosed(output: string): Promise<void> {
  for (const port of new Set(printedPorts(output)))
    assert.equal(await answers(port), false, `port ${port} still answers`);
}

/** Every process the demo started (`children`, seen while it ran) has exited, and its ports are closed. */
export async function assertNothingLeft(output: string, children: Map<number, string>): Promise<void> {
  const left = [...children].filter(([pid, command]) => stillRunning(pid, command));
  assert.deepEqual(left, [], 'every process the demo started has exited');
  await assertPortsClosed(output);
}

/** A CLI context run from the repository's folder that keeps what a command prints, for runDemo(). */
export function printingContext(): { ctx: CliContext; printed: string[] } {
  const printed: string[] = [];
  const ctx: CliContext = {
    out: (t) => printed.push(t),
    err: (t) => printed.push(t),
    env: process.env,
    cwd: ROOT,
  };
  return { ctx, printed };
}
