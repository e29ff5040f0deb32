// How a demo talks to the person watching it: numbered steps, the command each one corresponds
// to, what came back, and checks that pass or fail (remembered for the summary and the exit code).

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A part of a demo that did not run, and why (not a failure: the summary says it). */
export interface Skip {
  name: string;
  reason: string;
}

export interface ReporterOptions {
  out: (text: string) => void;
  /** Only the checks and the summary. */
  quiet?: boolean;
  /** Paths under it are printed relative to it, as a user working there would type them. */
  workDir?: string;
}

export class Reporter {
  private stepNumber = 0;
  private stepTitle = '';
  private workDir: string | undefined;

  constructor(
    private readonly opts: ReporterOptions,
    // Shared with forks, so a check made in a concurrent task counts in the one summary.
    private readonly checks: Check[] = [],
    private readonly skips: Skip[] = [],
  ) {
    this.workDir = opts.workDir;
  }

  /**
   * A reporter whose output is held back until release(), and printed as it comes after that: for a
   * task that runs concurrently with others but must read as if it ran after them (see inOrder).
   */
  fork(): { reporter: Reporter; release(): void } {
    let held: string[] | undefined = [];
    const out = (text: string) => (held ? held.push(text) : this.opts.out(text));
    const reporter = new Reporter({ ...this.opts, out, workDir: this.workDir }, this.checks, this.skips);
    return {
      reporter,
      release: () => {
        for (const text of held ?? []) this.opts.out(text);
        held = undefined;
      },
    };
  }

  /** Sets the directory that printed paths are relative to. */
  setWorkDir(dir: string): void {
    this.workDir = dir;
  }

  /** Always printed, even with --quiet. */
  line(text: string): void {
    this.opts.out(`${this.relative(text)}\n`);
  }

  /** Narration: printed unless --quiet. */
  say(text: string): void {
    if (!this.opts.quiet) this.line(text);
  }

  step(total: number, title: string): void {
    this.stepNumber += 1;
    this.stepTitle = title;
    this.say(`\n[${this.stepNumber}/${total}] ${title}`);
  }

  /** The command a user would type for what the demo does next. */
  command(text: string): void {
    this.say(`$ ${text}`);
  }

  /** What a command printed or what a step found, indented under its command. */
  result(text: string): void {
    const trimmed = text.trimEnd();
    if (trimmed) this.say(trimmed.replace(/^/gm, '  '));
  }

  /** Records a check and prints it; the demo fails at the end if any check failed. */
  check(name: string, ok: boolean, detail = ''): boolean {
    this.checks.push({ name, ok, detail });
    this.line(`  ${ok ? '✓' : '✗'} ${name}${detail ? ` — ${detail}` : ''}`);
    return ok;
  }

  /** Records a part that was not run, and why; printed now and again in the summary. */
  skip(name: string, reason: string): void {
    this.skips.push({ name, reason });
    this.line(`  – skipped: ${name} — ${reason}`);
  }

  /** "step 3 (Deploy …)", for saying where a demo stopped. */
  currentStep(): string {
    return this.stepNumber === 0 ? 'setting up' : `step ${this.stepNumber} (${this.stepTitle})`;
  }

  failed(): Check[] {
    return this.checks.filter((c) => !c.ok);
  }

  summary(seconds: number): void {
    const failed = this.failed();
    if (failed.length === 0) {
      this.line(`\nAll ${this.checks.length} checks passed in ${seconds.toFixed(1)} s.`);
    } else {
      this.line(`\n${failed.length} of ${this.checks.length} checks FAILED:`);
      for (const c of failed) this.line(`  ✗ ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
    }
    // A skipped part is not a failure, but a reader of the summary alone must not think it ran.
    for (const s of this.skips) this.line(`Skipped: ${s.name} — ${s.reason}`);
  }

  private relative(text: string): string {
    return this.workDir ? text.replaceAll(`${this.workDir}/`, '') : text;
  }
}
