// What every demo does around its own steps: a working directory, a process group, the last step
// (stop every process, remove the directory), the summary and the exit code, also after Ctrl-C.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { ensurePeerBinary, peerMissingReason } from '../peers/harness/peer-binary.js';
import { createProcessGroup, shellWords } from '../peers/harness/processes.js';
import { isMeshcaError, unavailable } from '../src/index.js';
import { demoChildEnv } from './child-env.js';
import type { DemoContext } from './demo-context.js';
import { Reporter } from './reporter.js';
import { prepareWorkDir } from './work-dir.js';

export interface DemoRunOptions {
  out: (text: string) => void;
  /** Work here (absolute; must be new or empty) instead of in a new temporary directory. */
  dir?: string;
  /** Leave the directory and its files behind. */
  keep?: boolean;
  /** Print only the checks and the summary. */
  quiet?: boolean;
  /** The user's environment; the children get it without meshca's settings (see child-env.ts). */
  env: NodeJS.ProcessEnv;
  /** How to run meshca (default: this installation's bin/meshca.js). */
  meshca?: readonly string[];
  /** The workloads' certificate agent: meshca's (default) or Istio's pilot-agent (built from peers/). */
  agent?: 'meshca' | 'istio';
}

export interface DemoScenario {
  /** Printed first: "meshca demo custom-ca — Istio's … task, on this machine". */
  title: string;
  /** Prefix of the temporary directory's name. */
  prefix: string;
  /** The steps the scenario numbers, plus the clean-up step. */
  totalSteps: number;
  run(ctx: DemoContext): Promise<void>;
  /**
   * Stops what the scenario started outside the process group (a server run by a library), after the
   * group's processes; called on every exit path, so it must be safe when nothing was started.
   */
  stopOthers?(ctx: DemoContext, interrupted: boolean): Promise<void>;
}

/** pilot-agent from the peers harness, built on first use; a clear failure where it cannot be. */
function pilotAgentBinary(report: DemoContext['report']): string {
  report.say(
    "Workloads use Istio's own agent (pilot-agent, built once from peers/pilot-agent; minutes the first time).",
  );
  const bin = ensurePeerBinary('pilot-agent');
  if (!bin) {
    throw unavailable(
      'DEMO_PILOT_AGENT_MISSING',
      `--agent istio needs Istio's pilot-agent: ${peerMissingReason('pilot-agent')}; install Go 1.26 or newer, or run without --agent istio`,
    );
  }
  report.say(`pilot-agent: ${bin}`);
  return bin;
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 2;
}

/** Runs `scenario`; resolves with the exit code (0 all checks passed, 1 failed, 128+N interrupted). */
export async function runDemoScenario(o: DemoRunOptions, scenario: DemoScenario): Promise<number> {
  const started = Date.now();
  const report = new Reporter({ out: o.out, quiet: o.quiet });
  const work = await prepareWorkDir({ dir: o.dir, prefix: scenario.prefix });
  report.setWorkDir(work.path);
  report.say(scenario.title);
  report.say(
    `Working in ${work.path} (${o.keep ? 'kept afterwards' : 'removed at the end; --keep keeps it'})`,
  );
  const group = createProcessGroup({ cwd: work.path, env: demoChildEnv(o.env), meshca: o.meshca });
  let ctx: DemoContext = { group, report, dir: work.path };

  let bug: unknown;
  try {
    if (o.agent === 'istio') ctx = { ...ctx, istioAgent: pilotAgentBinary(report) };
    await scenario.run(ctx);
  } catch (err) {
    if (!group.interruptedBy) {
      if (isMeshcaError(err)) report.check(`${report.currentStep()} completed`, false, err.message);
      else bug = err;
    }
  }

  const interrupted = group.interruptedBy;
  const processes = group.pids();
  if (interrupted) {
    report.line(`\nInterrupted by ${interrupted}: stopping ${processes.length} processes and cleaning up.`);
  } else {
    report.step(scenario.totalSteps, 'Clean up');
    report.command(`kill ${processes.join(' ')}   # SIGTERM to every process the demo started`);
  }
  await group.close();
  if (!interrupted) {
    const left = group.pids();
    report.check(
      'every process the demo started has exited',
      left.length === 0,
      left.length ? `still running: ${left.join(' ')}` : `${processes.length} stopped`,
    );
  }
  try {
    await scenario.stopOthers?.(ctx, interrupted !== undefined);
  } catch (err) {
    if (isMeshcaError(err)) report.check('every server the demo started has stopped', false, err.message);
    else bug ??= err;
  }
  if (o.keep) {
    report.line(`Kept ${work.path}`);
  } else {
    if (!interrupted) report.command(`rm -rf ${shellWords([work.path])}`);
    await work.remove();
    if (!interrupted) report.check('the working directory is gone', !existsSync(work.path));
  }
  if (bug) throw bug;
  if (interrupted) return 128 + signalNumber(interrupted);
  report.summary((Date.now() - started) / 1000);
  return report.failed().length === 0 ? 0 : 1;
}
