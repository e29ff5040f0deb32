// Runs a tool the task itself uses (openssl, diff) the way a demo shows it: the command line as a
// user would type it, then what it printed; a non-zero exit is a result to judge, not an error.

import { type ExecResult, shellWords } from '../peers/harness/processes.js';
import { type DemoContext, writeDemoFile } from './demo-context.js';

export interface ExecShownOptions {
  /** Standard input; '' is shown as `< /dev/null`. */
  input?: string;
  /** Writes stdout to this file (relative to the demo dir) and shows `> FILE`. */
  redirect?: string;
  /** What to print of the result (default: stdout and stderr, or only stderr when redirected). */
  show?: (r: ExecResult) => string;
}

export async function execShown(
  ctx: DemoContext,
  file: string,
  args: readonly string[],
  opts: ExecShownOptions = {},
): Promise<ExecResult> {
  const shell = `${file} ${shellWords(args)}${opts.input === '' ? ' < /dev/null' : ''}`;
  ctx.report.command(`${shell}${opts.redirect ? ` > ${opts.redirect}` : ''}`);
  const result = await ctx.group.exec(file, args, {
    input: opts.input,
    timeoutMs: 15_000,
    allowFailure: true,
  });
  if (opts.redirect) await writeDemoFile(ctx, opts.redirect, result.stdout);
  ctx.report.result(
    opts.show ? opts.show(result) : opts.redirect ? result.stderr : result.stdout + result.stderr,
  );
  if (result.code !== 0) ctx.report.result(`(exit code ${result.code ?? result.signal})`);
  return result;
}
