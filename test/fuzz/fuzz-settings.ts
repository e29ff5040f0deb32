// Settings and guards shared by the fuzz tests. Under `npm test` every property runs a bounded
// number of times from a fixed seed; `npm run fuzz` raises the runs and draws a random seed.
// A failure names the seed (and fast-check's path) that replays it; a run that hangs is killed.
//
//   MESHCA_FUZZ_RUNS=N        runs per property (default: each property's bounded count)
//   MESHCA_FUZZ_SEED=S|random the seed (default: a fixed one, so `npm test` is reproducible)
//   MESHCA_FUZZ_TIMEOUT_MS=T  a run slower than this fails (only when fuzzing: `npm test` asserts nothing
//                             on time); one 10× slower is killed as a hang, in `npm test` too
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { type ErrorKind, isMeshcaError, type MeshcaError } from '../../src/errors.js';

const FIXED_SEED = 0x6d657368; // "mesh"

function positiveInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${name}=${raw} is not a positive whole number`);
  }
  return value;
}

function readSeed(): number {
  const raw = process.env.MESHCA_FUZZ_SEED;
  if (raw === undefined || raw === '') return FIXED_SEED;
  if (raw === 'random') return Math.floor(Math.random() * 0x7fffffff);
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`MESHCA_FUZZ_SEED=${raw} is not an integer or "random"`);
  return seed;
}

export const FUZZ_SEED = readSeed();
const RUNS = positiveInteger('MESHCA_FUZZ_RUNS');
/** Per-run time limit; parsing a hostile input takes milliseconds, so a second is a generous bound. */
export const RUN_TIMEOUT_MS = positiveInteger('MESHCA_FUZZ_TIMEOUT_MS') ?? 1000;
/**
 * Whether a slow run fails: under `npm run fuzz` (or with MESHCA_FUZZ_TIMEOUT_MS), not under `npm test`,
 * which runs on shared machines and asserts nothing on time; timings belong to `npm run bench`.
 */
const SLOW_RUNS_FAIL = RUNS !== undefined || process.env.MESHCA_FUZZ_TIMEOUT_MS !== undefined;

if (RUNS !== undefined || process.env.MESHCA_FUZZ_SEED) {
  writeSync(2, `fuzz: seed ${FUZZ_SEED}, ${RUNS ?? 'default'} runs per property\n`);
}

/**
 * Runs for one property: `bounded` under `npm test`; under `npm run fuzz`, MESHCA_FUZZ_RUNS scaled by
 * `cost` (a property that makes a gRPC call per run is given fewer runs than a pure parser).
 */
export function runsFor(bounded: number, cost = 1): number {
  return RUNS === undefined ? bounded : Math.max(bounded, Math.round(RUNS / cost));
}

// A watchdog thread: the main thread bumps a counter as each run starts and raises a flag while it
// runs; a synchronous hang blocks the main thread's timers, so only another thread can notice it.
const HANG_MS = RUN_TIMEOUT_MS * 10;
const state = new Int32Array(new SharedArrayBuffer(8));
const NOTE_BYTES = 2048;
const note = new Uint8Array(new SharedArrayBuffer(NOTE_BYTES + 4));
const noteLength = new Int32Array(note.buffer, 0, 1);
const watchdog = new Worker(
  `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { state, note, hangMs, seed, runs } = workerData;
const length = new Int32Array(note.buffer, 0, 1);
let seen = 0;
let since = Date.now();
setInterval(() => {
  const run = Atomics.load(state, 0);
  if (run !== seen) { seen = run; since = Date.now(); return; }
  if (Atomics.load(state, 1) !== 1 || Date.now() - since < hangMs) return;
  const input = Buffer.from(note.buffer, 4, Atomics.load(length, 0)).toString('utf8');
  writeSync(2, '\\nfuzz: a run hung for more than ' + hangMs + ' ms (seed ' + seed + ', run ' + run +
    '); replay with MESHCA_FUZZ_SEED=' + seed +
    (runs ? ' MESHCA_FUZZ_RUNS=' + runs : '') + '\\nfuzz: input ' + input + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, Math.max(20, Math.floor(hangMs / 10)));
`,
  { eval: true, workerData: { state, note, hangMs: HANG_MS, seed: FUZZ_SEED, runs: RUNS } },
);
watchdog.unref();

let runCount = 0;

/** A short picture of a run's input for the hang report (never the whole of a large input). */
function preview(args: unknown[]): string {
  return args
    .map((arg) =>
      typeof arg === 'string'
        ? JSON.stringify(arg.slice(0, 400)) + (arg.length > 400 ? `…(${arg.length} chars)` : '')
        : arg instanceof Uint8Array
          ? `hex ${Buffer.from(arg.subarray(0, 200)).toString('hex')}${arg.length > 200 ? `…(${arg.length} bytes)` : ''}`
          : fc.stringify(arg).slice(0, 400),
    )
    .join(', ');
}

function startRun(args: unknown[]): number {
  const text = Buffer.from(preview(args).slice(0, NOTE_BYTES / 4), 'utf8');
  note.set(text.subarray(0, NOTE_BYTES), 4);
  Atomics.store(noteLength, 0, Math.min(text.length, NOTE_BYTES));
  Atomics.store(state, 0, ++runCount);
  Atomics.store(state, 1, 1);
  return performance.now();
}

function endRun(started: number, timeoutMs: number): void {
  if (!SLOW_RUNS_FAIL) return;
  const elapsed = performance.now() - started;
  if (elapsed > timeoutMs) {
    throw new Error(`the run took ${Math.round(elapsed)} ms, more than the ${timeoutMs} ms a run may take`);
  }
}

/** Wraps a synchronous predicate: watched for hangs, failed when slower than RUN_TIMEOUT_MS (when fuzzing). */
export function guarded<Ts extends unknown[]>(predicate: (...args: Ts) => void): (...args: Ts) => void {
  return (...args) => {
    const started = startRun(args);
    try {
      predicate(...args);
    } finally {
      Atomics.store(state, 1, 0);
    }
    endRun(started, RUN_TIMEOUT_MS);
  };
}

/** The same for an asynchronous predicate (a gRPC call, a token check). */
export function guardedAsync<Ts extends unknown[]>(
  predicate: (...args: Ts) => Promise<void>,
  timeoutMs = RUN_TIMEOUT_MS,
): (...args: Ts) => Promise<void> {
  return async (...args) => {
    const started = startRun(args);
    try {
      await predicate(...args);
    } finally {
      Atomics.store(state, 1, 0);
    }
    endRun(started, timeoutMs);
  };
}

function parameters<Ts>(runs: number, asyncTimeoutMs?: number): fc.Parameters<Ts> {
  return {
    seed: FUZZ_SEED,
    numRuns: runs,
    ...(asyncTimeoutMs === undefined ? {} : { timeout: asyncTimeoutMs }),
  };
}

/** Cuts long runs of a message (a counterexample can be a megabyte) so a failure stays readable. */
function shorten(text: string): string {
  return text.replace(/[^\n]{600,}/g, (line) => `${line.slice(0, 500)}…(${line.length} characters)`);
}

function replayable(err: unknown): Error {
  const text = err instanceof Error ? err.message : String(err);
  const path = /path: "([^"]*)"/.exec(text)?.[1];
  // fast-check's error carries the predicate's own as its cause: keep that, not fast-check's copy.
  const cause = err instanceof Error ? err.cause : undefined;
  const error = new Error(
    `fuzz failure (seed ${FUZZ_SEED}${path === undefined ? '' : `, path ${path}`}); replay with ` +
      `MESHCA_FUZZ_SEED=${FUZZ_SEED}${RUNS === undefined ? '' : ` MESHCA_FUZZ_RUNS=${RUNS}`} node scripts/run-tests.mjs test/fuzz/\n${shorten(text)}`,
    cause === undefined ? {} : { cause },
  );
  return error;
}

/** fc.assert with the shared seed and run count; the error says how to replay. */
export function check<Ts>(property: fc.IProperty<Ts>, runs: number): void {
  try {
    fc.assert(property, parameters(runs));
  } catch (err) {
    throw replayable(err);
  }
}

export async function checkAsync<Ts>(
  property: fc.IAsyncProperty<Ts>,
  runs: number,
  timeoutMs = RUN_TIMEOUT_MS * 5,
): Promise<void> {
  try {
    await fc.assert(property, parameters(runs, timeoutMs));
  } catch (err) {
    throw replayable(err);
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: MeshcaError };

function judge(err: unknown, kinds: readonly ErrorKind[], codes?: RegExp): MeshcaError {
  if (!isMeshcaError(err)) {
    const what = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
    throw new Error(`threw a non-MeshcaError: ${what}`, { cause: err });
  }
  if (!kinds.includes(err.kind)) {
    throw new Error(`threw ${err.code} of kind ${err.kind}, expected ${kinds.join(' or ')}: ${err.message}`, {
      cause: err,
    });
  }
  if (codes && !codes.test(err.code)) {
    throw new Error(`threw ${err.code}, expected a code matching ${codes}: ${err.message}`, { cause: err });
  }
  return err;
}

/** The only acceptable outcomes of hostile input: a result, or a MeshcaError of an expected kind. */
export function outcomeOf<T>(fn: () => T, kinds: readonly ErrorKind[], codes?: RegExp): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, error: judge(err, kinds, codes) };
  }
}

export async function outcomeOfAsync<T>(
  fn: () => Promise<T>,
  kinds: readonly ErrorKind[],
  codes?: RegExp,
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: judge(err, kinds, codes) };
  }
}
