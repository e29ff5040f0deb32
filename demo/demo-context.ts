// What every step of a demo works with (its processes, its reporter, its directory) and the one
// habit they share: print the command a user would type, run it, show what came back.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  type ExecOptions,
  type ExecResult,
  type ProcessGroup,
  shellWords,
} from '../peers/harness/processes.js';
import type { Reporter } from './reporter.js';

export interface DemoContext {
  readonly group: ProcessGroup;
  readonly report: Reporter;
  /** The working directory; children run here, so paths in commands are relative to it. */
  readonly dir: string;
  /**
   * Who keeps the workloads' certificate files: meshca's own agent inside `meshca sidecar` (default),
   * or Istio's pilot-agent beside a `meshca sidecar --no-agent` (its binary path).
   */
  readonly istioAgent?: string;
}

/** Prints `$ meshca args…`, runs it, and prints its output (paths shown relative to the demo dir). */
export async function meshcaShown(
  ctx: DemoContext,
  args: readonly string[],
  opts: ExecOptions & { redirect?: string; quietOutput?: boolean } = {},
): Promise<ExecResult> {
  ctx.report.command(`meshca ${shellWords(args)}${opts.redirect ? ` > ${opts.redirect}` : ''}`);
  const result = await ctx.group.meshca(args, opts);
  if (!opts.quietOutput) ctx.report.result(result.stdout + result.stderr);
  return result;
}

/** Writes `text` to `relativePath` under the demo dir, creating folders; returns the absolute path. */
export async function writeDemoFile(
  ctx: DemoContext,
  relativePath: string,
  text: string,
  mode?: number,
): Promise<string> {
  const path = join(ctx.dir, relativePath);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text, mode === undefined ? {} : { mode });
  if (mode !== undefined) await chmod(path, mode);
  return path;
}

/** Stops the demo between actions once Ctrl-C has been pressed. */
export function throwIfInterrupted(ctx: DemoContext): void {
  ctx.group.throwIfInterrupted();
}

/**
 * Runs `tasks` concurrently, each printing through its own reporter: the first prints as it goes,
 * each later one's output is held back until those before it are done, so it all reads in order.
 * Waits for all of them, then fails with the first failure.
 */
export async function inOrder<T extends unknown[]>(
  ctx: DemoContext,
  ...tasks: { [K in keyof T]: (ctx: DemoContext) => Promise<T[K]> }
): Promise<T> {
  const forks = tasks.map(() => ctx.report.fork());
  forks[0]?.release();
  const settled = tasks.map((task, i) =>
    task({ ...ctx, report: forks[i]!.reporter }).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
  );
  const values: unknown[] = [];
  let failure: { error: unknown } | undefined;
  for (const [i, pending] of settled.entries()) {
    const result = await pending;
    forks[i + 1]?.release();
    if (result.ok) values.push(result.value);
    else failure ??= result;
  }
  if (failure) throw failure.error;
  return values as T;
}
