// Runs the demos' child processes (meshca itself, openssl, diff) as a group: start and wait for a
// JSON log line with a deadline, keep their output for error messages, stop them all on any exit.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MeshcaError, unavailable } from '../../src/index.js';
import { type LogLine, type WatchedOutput, watchLogLines } from './log-lines.js';

export type { LogLine } from './log-lines.js';

export interface ProcessGroupOptions {
  /** Working directory of every child (relative paths in their arguments resolve here). */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** How to run meshca; default: this Node binary and the checkout's bin/meshca.js. */
  meshca?: readonly string[];
  /**
   * Ctrl-C and SIGTERM abort the group (pending waits reject, children are stopped) and process exit
   * kills what is left. Default true; off for library use where the caller owns the signals.
   */
  handleSignals?: boolean;
  /** How long a stopped child may take to exit before it is killed (default 3000 ms). */
  stopTimeoutMs?: number;
}

export interface ExecOptions {
  input?: string;
  /** Default 30 s; the child is killed and the call rejects when it runs longer. */
  timeoutMs?: number;
  /** Resolve with a non-zero exit instead of rejecting (for checks that judge the exit code). */
  allowFailure?: boolean;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface StartOptions {
  /** A short name for messages ("httpbin's sidecar"). */
  name: string;
  /** The log line that means the process is ready. */
  ready: (line: LogLine) => boolean;
  /** Default 20 s. */
  timeoutMs?: number;
  /** This child's own working directory and environment, instead of the group's. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface GroupProcess {
  readonly name: string;
  readonly pid: number;
  /** The line that `ready` matched. */
  readonly readyLine: LogLine;
  /** Every JSON log line so far, from stdout and stderr. */
  readonly logs: readonly LogLine[];
  /** The last part of everything it printed, for error messages. */
  output(): string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then SIGKILL after the stop timeout; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface ProcessGroup {
  /** Aborted by Ctrl-C / SIGTERM (with the signal as reason) or by close(). */
  readonly signal: AbortSignal;
  /** The signal that interrupted the group, if one did. */
  readonly interruptedBy: NodeJS.Signals | undefined;
  /** Runs `file args…` to completion. */
  exec(file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs `meshca args…` to completion. */
  meshca(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running `file args…` and resolves once it logs its ready line. */
  start(file: string, args: readonly string[], opts: StartOptions): Promise<GroupProcess>;
  /** Starts a long-running `meshca args…` and resolves once it logs its ready line. */
  startMeshca(args: readonly string[], opts: StartOptions): Promise<GroupProcess>;
  /** Throws DEMO_INTERRUPTED once Ctrl-C / SIGTERM (or close()) has aborted the group. */
  throwIfInterrupted(): void;
  /** Process ids of the children still running. */
  pids(): number[];
  /** Stops every child still running (SIGTERM, then SIGKILL). */
  stopAll(): Promise<void>;
  /** stopAll(), then forgets the signal and exit handlers. */
  close(): Promise<void>;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/**
 * `[node, …/bin/meshca.js]`, found from the source tree (peers/harness/, under tsx) and from the
 * compiled tree alike (dist/peers/harness/, three levels below the package root).
 */
export function meshcaCommand(): string[] {
  for (const up of ['../../bin/meshca.js', '../../../bin/meshca.js']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path)) return [process.execPath, path];
  }
  throw unavailable('DEMO_MESHCA_NOT_FOUND', 'cannot find bin/meshca.js next to this installation of meshca');
}

function indent(text: string): string {
  const trimmed = text.trimEnd();
  return trimmed ? `\n${trimmed.replace(/^/gm, '    ')}` : ' (no output)';
}

/** Words joined as a shell would need them typed (for printing commands, never for running them). */
export function shellWords(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(' ');
}

const commandLine = (file: string, args: readonly string[]) => shellWords([file, ...args]);

/** What every step of a group shares: its settings, its children, and whether it was interrupted. */
interface GroupState {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly stopTimeoutMs: number;
  readonly controller: AbortController;
  /** Every child still running, with the promise of its exit. */
  readonly children: Map<ChildProcess, Promise<Exit>>;
  interruptedBy: NodeJS.Signals | undefined;
}

function interruptedError(state: GroupState): MeshcaError {
  return new MeshcaError(
    'DEMO_INTERRUPTED',
    'unavailable',
    `interrupted by ${state.interruptedBy ?? 'close()'}`,
  );
}

function killAllNow(state: GroupState): void {
  for (const child of state.children.keys()) child.kill('SIGKILL');
}

/**
 * Ctrl-C and SIGTERM abort the group and stop its children; process exit kills what is left.
 * Returns the function that removes these handlers again.
 */
function abortOnSignals(state: GroupState): () => void {
  const killNow = () => killAllNow(state);
  const onSignal = (signal: NodeJS.Signals) => {
    if (state.controller.signal.aborted) {
      // A second Ctrl-C means "now": no more waiting for graceful exits.
      killNow();
      return;
    }
    state.interruptedBy = signal;
    state.controller.abort(signal);
    void stopAllChildren(state);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The last resort when the parent dies without cleaning up (an uncaught error, process.exit).
  process.on('exit', killNow);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killNow);
  };
}

/** Spawns a child of the group (refused once the group is interrupted) and tracks it until it exits. */
function spawnChild(
  state: GroupState,
  file: string,
  args: readonly string[],
  stdin: 'pipe' | 'ignore',
  own: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  if (state.controller.signal.aborted) throw interruptedError(state);
  const child = spawn(file, args, {
    cwd: own.cwd ?? state.cwd,
    env: own.env ?? state.env ?? process.env,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('error', (error) => {
      state.children.delete(child);
      resolve({ code: null, signal: null, error });
    });
    child.on('close', (code, signal) => {
      state.children.delete(child);
      resolve({ code, signal });
    });
  });
  state.children.set(child, exited);
  return { child, exited };
}

/** SIGTERM, then SIGKILL once `stopTimeoutMs` has passed; resolves when the child has exited. */
function stopChild(child: ChildProcess, exited: Promise<unknown>, stopTimeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return exited.then(() => undefined);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  return exited.then(() => clearTimeout(timer));
}

async function stopAllChildren(state: GroupState): Promise<void> {
  await Promise.all(
    [...state.children].map(([child, exited]) => stopChild(child, exited, state.stopTimeoutMs)),
  );
}

/** Everything a child prints on stdout and stderr, as it comes. */
function collectOutput(child: ChildProcess): { stdout: string; stderr: string } {
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    output.stdout += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    output.stderr += c;
  });
  return output;
}

/** Kills the child with SIGKILL unless cancelled within `timeoutMs`; `expired` says whether it did. */
function killAfter(child: ChildProcess, timeoutMs: number): { readonly expired: boolean; cancel(): void } {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return {
    get expired() {
      return expired;
    },
    cancel: () => clearTimeout(timer),
  };
}

/** Why a finished command counts as failed (it did not run, ran too long, or exited non-zero), if it does. */
function completionError(
  file: string,
  args: readonly string[],
  result: Exit,
  how: { timedOut: boolean; timeoutMs: number; output: string; allowFailure: boolean },
): MeshcaError | undefined {
  const line = commandLine(file, args);
  if (result.error) {
    return unavailable(
      'DEMO_COMMAND_NOT_RUN',
      `could not run ${file}: ${result.error.message}${(result.error as NodeJS.ErrnoException).code === 'ENOENT' ? ` (is ${file} installed and on PATH?)` : ''}`,
      result.error,
    );
  }
  if (how.timedOut) {
    return unavailable(
      'DEMO_COMMAND_TIMEOUT',
      `${line} did not finish within ${how.timeoutMs} ms; its output:${indent(how.output)}`,
    );
  }
  if (result.code !== 0 && !how.allowFailure) {
    return unavailable(
      'DEMO_COMMAND_FAILED',
      `${line} exited with ${result.code ?? result.signal}; its output:${indent(how.output)}`,
    );
  }
  return undefined;
}

/** Runs `file args…` to completion with `o.input` on its stdin, under a deadline. */
async function runToCompletion(
  state: GroupState,
  file: string,
  args: readonly string[],
  o: ExecOptions = {},
): Promise<ExecResult> {
  const { child, exited } = spawnChild(state, file, args, 'pipe');
  const output = collectOutput(child);
  child.stdin!.on('error', () => {}); // a child that exits without reading its input
  child.stdin!.end(o.input ?? '');
  const timeoutMs = o.timeoutMs ?? 30_000;
  const deadline = killAfter(child, timeoutMs);
  const result = await exited;
  deadline.cancel();
  if (state.controller.signal.aborted) throw interruptedError(state);
  const failure = completionError(file, args, result, {
    timedOut: deadline.expired,
    timeoutMs,
    output: output.stdout + output.stderr,
    allowFailure: o.allowFailure === true,
  });
  if (failure) throw failure;
  return { code: result.code, signal: result.signal, stdout: output.stdout, stderr: output.stderr };
}

/** A started child, as `waitForLog` needs it for its messages. */
interface StartedChild {
  name: string;
  file: string;
  /** The command line, for messages. */
  line: string;
  watched: WatchedOutput;
  exited: Promise<Exit>;
}

/** Why `child` will never log what is awaited: it could not be run, or it exited first. */
function exitedBeforeReady(child: StartedChild, exit: Exit): MeshcaError {
  return exit.error
    ? unavailable('DEMO_COMMAND_NOT_RUN', `could not run ${child.file}: ${exit.error.message}`, exit.error)
    : unavailable(
        'DEMO_PROCESS_EXITED',
        `${child.name} (${child.line}) exited with ${exit.code ?? exit.signal} before it was ready; its output:${indent(child.watched.tail.toString())}`,
      );
}

/**
 * `waitForLog` for one started child: the first line matching `predicate`, already logged or still to
 * come; rejects when it does not come in time, when the group is interrupted, or when the child exits.
 */
function logWaiter(state: GroupState, child: StartedChild): GroupProcess['waitForLog'] {
  const { watched } = child;
  return (predicate, timeoutMs = 20_000) => {
    const seen = watched.logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (l: LogLine) => {
          done();
          resolve(l);
        },
      };
      const fail = (err: Error) => {
        done();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            unavailable(
              'DEMO_PROCESS_NOT_READY',
              `${child.name} (${child.line}) did not log what the demo waits for within ${timeoutMs} ms; its output:${indent(watched.tail.toString())}`,
            ),
          ),
        timeoutMs,
      );
      const onAbort = () => fail(interruptedError(state));
      const done = () => {
        clearTimeout(timer);
        watched.waiters.delete(waiter);
        state.controller.signal.removeEventListener('abort', onAbort);
      };
      watched.waiters.add(waiter);
      state.controller.signal.addEventListener('abort', onAbort, { once: true });
      void child.exited.then((exit) => {
        if (watched.waiters.has(waiter)) fail(exitedBeforeReady(child, exit));
      });
    });
  };
}

/** Starts a long-running `file args…` and resolves once it logs the line `o.ready` accepts. */
async function startAndAwaitReady(
  state: GroupState,
  file: string,
  args: readonly string[],
  o: StartOptions,
): Promise<GroupProcess> {
  const { child, exited } = spawnChild(state, file, args, 'ignore', { cwd: o.cwd, env: o.env });
  const watched = watchLogLines(child);
  const waitForLog = logWaiter(state, { name: o.name, file, line: commandLine(file, args), watched, exited });
  const readyLine = await waitForLog(o.ready, o.timeoutMs);
  return {
    name: o.name,
    pid: child.pid!,
    readyLine,
    logs: watched.logs,
    output: () => watched.tail.toString(),
    waitForLog,
    stop: () => stopChild(child, exited, state.stopTimeoutMs).then(() => child.exitCode),
  };
}

export function createProcessGroup(opts: ProcessGroupOptions): ProcessGroup {
  const meshca = opts.meshca ?? meshcaCommand();
  const state: GroupState = {
    cwd: opts.cwd,
    env: opts.env,
    stopTimeoutMs: opts.stopTimeoutMs ?? 3000,
    controller: new AbortController(),
    children: new Map(),
    interruptedBy: undefined,
  };
  const forgetSignals = (opts.handleSignals ?? true) ? abortOnSignals(state) : () => {};
  const withMeshca = (args: readonly string[]) => [...meshca.slice(1), ...args];

  return {
    signal: state.controller.signal,
    get interruptedBy() {
      return state.interruptedBy;
    },
    exec: (file, args, o) => runToCompletion(state, file, args, o),
    meshca: (args, o) => runToCompletion(state, meshca[0]!, withMeshca(args), o),
    start: (file, args, o) => startAndAwaitReady(state, file, args, o),
    startMeshca: (args, o) => startAndAwaitReady(state, meshca[0]!, withMeshca(args), o),
    throwIfInterrupted: () => {
      if (state.controller.signal.aborted) throw interruptedError(state);
    },
    pids: () => [...state.children.keys()].map((c) => c.pid).filter((p): p is number => p !== undefined),
    stopAll: () => stopAllChildren(state),
    async close() {
      if (!state.controller.signal.aborted) state.controller.abort();
      await stopAllChildren(state);
      forgetSignals();
    },
  };
}
