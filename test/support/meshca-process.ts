// Runs the real `meshca` command (the compiled CLI, as users run it) in child processes and cleans
// them up: to completion (runMeshca), or long-running until a log line says it is ready (startMeshca);
// `startServe` waits for the CA's "serving" log line and reads the ports from it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR } from './cli.js';
import { killAfterTests } from './kill-after-tests.js';

export const MESHCA_BIN = join(REPO_DIR, 'bin', 'meshca.js');

export interface ServeProcess {
  child: ChildProcess;
  grpcPort: number;
  monitoringPort: number | undefined;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  stderr(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/** A long-running `meshca` command (sidecar, agent, sample, serve) and its JSON log lines. */
export interface MeshcaProcess {
  child: ChildProcess;
  /** The log line `ready` matched. */
  ready: Record<string, unknown>;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/**
 * Starts `meshca args…` and resolves once a JSON log line on stderr satisfies `ready`; rejects with
 * the whole stderr if the process exits first or the line does not come within `timeoutMs`.
 */
export function startMeshca(
  args: string[],
  ready: (line: Record<string, unknown>) => boolean,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<MeshcaProcess> {
  const child = spawn(process.execPath, [MESHCA_BIN, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killAfterTests(child);
  child.stdout!.resume(); // nothing is read from stdout; an unread pipe could fill and block the child
  const logs: Record<string, unknown>[] = [];
  let text = '';
  let pending = '';
  const waiters: {
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        logs.push(parsed);
        for (const w of [...waiters]) {
          if (w.predicate(parsed)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(parsed);
          }
        }
      } catch {
        // not a log line (a usage error); kept in text
      }
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`log line not seen within ${timeoutMs} ms; stderr:\n${text}`)),
        timeoutMs,
      );
      waiters.push({
        predicate,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`meshca ${args[0]} exited (${code}) before the log line; stderr:\n${text}`));
      });
    });
  };
  return waitForLog(ready, opts.timeoutMs).then((line) => ({
    child,
    ready: line,
    logs,
    stderr: () => text,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    waitForLog,
  }));
}

export function startServe(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ServeProcess> {
  return startMeshca(
    ['serve', '--listen', '127.0.0.1:0', '--monitoring', '127.0.0.1:0', ...args],
    (l) => l.msg === 'meshca CA serving',
    opts,
  ).then((p) => ({
    child: p.child,
    grpcPort: Number(String(p.ready.grpc).split(':').pop()),
    monitoringPort:
      p.ready.monitoring === 'off' ? undefined : Number(String(p.ready.monitoring).split(':').pop()),
    logs: p.logs,
    stderr: p.stderr,
    stop: p.stop,
    waitForLog: p.waitForLog,
  }));
}

export interface MeshcaResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunMeshcaOptions {
  cwd?: string;
  /** Added to a minimal environment (PATH, HOME, TMPDIR): the caller's own ROOTCA_DAYS & co never leak in. */
  env?: Record<string, string>;
  input?: string;
}

/** `node bin/meshca.js args…` to completion; resolves with the exit code and both streams, never rejects on a non-zero exit. */
export function runMeshca(args: string[], opts: RunMeshcaOptions = {}): Promise<MeshcaResult> {
  if (!existsSync(join(REPO_DIR, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('the CLI is not built: run "npm run build" before the tests that run it');
  }
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MESHCA_BIN, ...args], {
      cwd: opts.cwd ?? REPO_DIR,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    killAfterTests(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like runMeshca, but fails the test with both streams when the command does not exit 0. */
export async function runMeshcaOk(args: string[], opts: RunMeshcaOptions = {}): Promise<MeshcaResult> {
  const result = await runMeshca(args, opts);
  if (result.code !== 0) {
    throw new Error(`meshca ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result;
}
