// Runs the demos' child processes (meshca itself, openssl, diff) as a group: start and wait for a
// JSON log line with a deadline, keep their output for error messages, stop them all on any exit.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MeshcaError, unavailable } from '../src/index.js';

export type LogLine = Record<string, unknown>;

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

const OUTPUT_LIMIT = 64 * 1024;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** `[node, …/bin/meshca.js]`, found from the source tree (tsx) and from the compiled tree alike. */
export function meshcaCommand(): string[] {
  for (const up of ['../bin/meshca.js', '../../bin/meshca.js']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path)) return [process.execPath, path];
  }
  throw unavailable('DEMO_MESHCA_NOT_FOUND', 'cannot find bin/meshca.js next to this installation of meshca');
}

/** Keeps the end of a child's output: enough to explain a failure, bounded for a chatty one. */
class OutputTail {
  private text = '';
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > OUTPUT_LIMIT) this.text = this.text.slice(-OUTPUT_LIMIT);
  }
  toString(): string {
    return this.text;
  }
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

export function createProcessGroup(opts: ProcessGroupOptions): ProcessGroup {
  const meshca = opts.meshca ?? meshcaCommand();
  const stopTimeoutMs = opts.stopTimeoutMs ?? 3000;
  const controller = new AbortController();
  // Every child still running, with the promise of its exit.
  const children = new Map<ChildProcess, Promise<Exit>>();
  let interruptedBy: NodeJS.Signals | undefined;

  const interrupted = () =>
    new MeshcaError('DEMO_INTERRUPTED', 'unavailable', `interrupted by ${interruptedBy ?? 'close()'}`);

  const killNow = () => {
    for (const child of children.keys()) child.kill('SIGKILL');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // A second Ctrl-C means "now": no more waiting for graceful exits.
      killNow();
      return;
    }
    interruptedBy = signal;
    controller.abort(signal);
    void stopAll();
  };
  const handleSignals = opts.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // The last resort when the parent dies without cleaning up (an uncaught error, process.exit).
    process.on('exit', killNow);
  }

  function spawnChild(
    file: string,
    args: readonly string[],
    stdin: 'pipe' | 'ignore',
    own: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    if (controller.signal.aborted) throw interrupted();
    const child = spawn(file, args, {
      cwd: own.cwd ?? opts.cwd,
      env: own.env ?? opts.env ?? process.env,
      stdio: [stdin, 'pipe', 'pipe'],
    });
    const exited = new Promise<Exit>((resolve) => {
      child.on('error', (error) => {
        children.delete(child);
        resolve({ code: null, signal: null, error });
      });
      child.on('close', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      });
    });
    children.set(child, exited);
    return { child, exited };
  }

  function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return exited.then(() => undefined);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    return exited.then(() => clearTimeout(timer));
  }

  async function exec(file: string, args: readonly string[], o: ExecOptions = {}): Promise<ExecResult> {
    const { child, exited } = spawnChild(file, args, 'pipe');
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.stdin!.on('error', () => {}); // a child that exits without reading its input
    child.stdin!.end(o.input ?? '');
    const timeoutMs = o.timeoutMs ?? 30_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const result = await exited;
    clearTimeout(timer);
    const line = commandLine(file, args);
    if (controller.signal.aborted) throw interrupted();
    if (result.error) {
      throw unavailable(
        'DEMO_COMMAND_NOT_RUN',
        `could not run ${file}: ${result.error.message}${(result.error as NodeJS.ErrnoException).code === 'ENOENT' ? ` (is ${file} installed and on PATH?)` : ''}`,
        result.error,
      );
    }
    if (timedOut) {
      throw unavailable(
        'DEMO_COMMAND_TIMEOUT',
        `${line} did not finish within ${timeoutMs} ms; its output:${indent(stdout + stderr)}`,
      );
    }
    if (result.code !== 0 && !o.allowFailure) {
      throw unavailable(
        'DEMO_COMMAND_FAILED',
        `${line} exited with ${result.code ?? result.signal}; its output:${indent(stdout + stderr)}`,
      );
    }
    return { code: result.code, signal: result.signal, stdout, stderr };
  }

  async function start(file: string, args: readonly string[], o: StartOptions): Promise<GroupProcess> {
    const { child, exited } = spawnChild(file, args, 'ignore', { cwd: o.cwd, env: o.env });
    const tail = new OutputTail();
    const logs: LogLine[] = [];
    const waiters = new Set<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
    const onLines = () => {
      let pending = '';
      return (chunk: string) => {
        tail.add(chunk);
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const text of lines) {
          if (!text.startsWith('{')) continue;
          let line: LogLine;
          try {
            line = JSON.parse(text) as LogLine;
          } catch {
            continue; // not a log line; it stays in the output tail
          }
          logs.push(line);
          for (const w of waiters) {
            if (w.predicate(line)) {
              waiters.delete(w);
              w.resolve(line);
            }
          }
        }
      };
    };
    child.stdout!.setEncoding('utf8').on('data', onLines());
    child.stderr!.setEncoding('utf8').on('data', onLines());
    const line = commandLine(file, args);

    const waitForLog = (predicate: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
      const seen = logs.find(predicate);
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
                `${o.name} (${line}) did not log what the demo waits for within ${timeoutMs} ms; its output:${indent(tail.toString())}`,
              ),
            ),
          timeoutMs,
        );
        const onAbort = () => fail(interrupted());
        const done = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          controller.signal.removeEventListener('abort', onAbort);
        };
        waiters.add(waiter);
        controller.signal.addEventListener('abort', onAbort, { once: true });
        void exited.then((r) => {
          if (!waiters.has(waiter)) return;
          fail(
            r.error
              ? unavailable('DEMO_COMMAND_NOT_RUN', `could not run ${file}: ${r.error.message}`, r.error)
              : unavailable(
                  'DEMO_PROCESS_EXITED',
                  `${o.name} (${line}) exited with ${r.code ?? r.signal} before it was ready; its output:${indent(tail.toString())}`,
                ),
          );
        });
      });
    };

    const readyLine = await waitForLog(o.ready, o.timeoutMs);
    return {
      name: o.name,
      pid: child.pid!,
      readyLine,
      logs,
      output: () => tail.toString(),
      waitForLog,
      stop: () => stopChild(child, exited).then(() => child.exitCode),
    };
  }

  async function stopAll(): Promise<void> {
    await Promise.all([...children].map(([child, exited]) => stopChild(child, exited)));
  }

  return {
    signal: controller.signal,
    get interruptedBy() {
      return interruptedBy;
    },
    exec,
    meshca: (args, o) => exec(meshca[0]!, [...meshca.slice(1), ...args], o),
    start,
    startMeshca: (args, o) => start(meshca[0]!, [...meshca.slice(1), ...args], o),
    throwIfInterrupted: () => {
      if (controller.signal.aborted) throw interrupted();
    },
    pids: () => [...children.keys()].map((c) => c.pid).filter((p): p is number => p !== undefined),
    stopAll,
    async close() {
      if (!controller.signal.aborted) controller.abort();
      await stopAll();
      if (handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('exit', killNow);
      }
    },
  };
}
