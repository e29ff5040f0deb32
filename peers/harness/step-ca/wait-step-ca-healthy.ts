// Waits for a freshly started step-ca to answer GET /health over TLS that its root vouches for, so a
// caller's first request meets a ready server; if it exits or stays silent, says why from its log.
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { unavailable } from '../../../src/index.js';

export interface WaitStepCaHealthyOptions {
  /** `https://127.0.0.1:<port>` */
  url: string;
  rootPem: string;
  child: ChildProcess;
  /** Where the child's output goes; its tail goes into the error. */
  logFile: string;
  /** Default 30 s: badger opening a fresh database is the slow part. */
  timeoutMs?: number;
}

const POLL_MS = 100;

function healthy(url: string, rootPem: string): Promise<boolean> {
  return new Promise((done) => {
    const req = get(`${url}/health`, { ca: rootPem, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
  });
}

async function logTail(logFile: string): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resolves once healthy; otherwise kills the child and rejects with DEMO_STEP_CA_UNHEALTHY. */
export async function waitStepCaHealthy(opts: WaitStepCaHealthyOptions): Promise<void> {
  const { url, child, logFile } = opts;
  // A spawn that failed (no such binary) emits 'error' and may never emit 'exit'.
  let failure: Error | undefined;
  const exited = new Promise<'exited'>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done('exited');
    child.once('exit', () => done('exited'));
    child.once('error', (err) => {
      failure = err;
      done('exited');
    });
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let state: 'exited' | 'waiting' = 'waiting';
  while (Date.now() < deadline) {
    if (await healthy(url, opts.rootPem)) return;
    state = await Promise.race([exited, new Promise<'waiting'>((r) => setTimeout(r, POLL_MS, 'waiting'))]);
    if (state === 'exited') break;
  }
  child.kill('SIGKILL');
  const why = failure
    ? `could not be started (${failure.message})`
    : state === 'exited'
      ? child.signalCode
        ? `was killed by ${child.signalCode}`
        : `exited with code ${child.exitCode}`
      : `did not answer /health within ${timeoutMs} ms`;
  throw unavailable(
    'DEMO_STEP_CA_UNHEALTHY',
    `step-ca at ${url} ${why}; fix what the last lines of ${logFile} say:\n${await logTail(logFile)}`,
    failure,
  );
}
