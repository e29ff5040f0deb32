// `meshca rotate prepare|status|activate|finish`: a staged change of the root of trust, in either home.
// Each step records the plan (in <data-dir>/rotation/, or Secret meshca-rotation in the CA's
// namespace), then waits for every running CA process (or replica) to say it applied it.
import { resolve } from 'node:path';
import { activateRotation, describePending } from '../ca/rotation/activate-rotation.js';
import { dataDirRotationStore } from '../ca/rotation/data-dir-rotation.js';
import { finishRotation } from '../ca/rotation/finish-rotation.js';
import type { InServiceRecord } from '../ca/rotation/in-service-record.js';
import { prepareRotation } from '../ca/rotation/prepare-rotation.js';
import type { RotationStore } from '../ca/rotation/rotation-home.js';
import { rotationProgress } from '../ca/rotation/rotation-progress.js';
import type { RotationState } from '../ca/rotation/rotation-state.js';
import { invalidInput } from '../errors.js';
import { loadKubeClient } from '../kubernetes/kube-client.js';
import { kubernetesRotationStore } from '../kubernetes/rotation/kubernetes-rotation-store.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { resolveKubernetesSettings } from './kubernetes-settings.js';
import { SettingsProblems } from './settings.js';

const spec: CommandSpec = {
  name: 'rotate',
  summary: 'change the root of trust of a running CA in steps, losing no workload',
  usage:
    'meshca rotate <prepare --new-cacerts DIR | status | activate [--force] | finish> [--data-dir DIR | --kubeconfig FILE [--namespace NS]]',
  allowPositionals: true,
  options: {
    'data-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    'new-cacerts': { type: 'string' },
    force: { type: 'boolean' },
    wait: { type: 'string' },
  },
  optionHelp: [
    "--data-dir DIR      the CA's data directory (env MESHCA_DATA_DIR, default ./.meshca)",
    "--kubeconfig FILE   the CA's cluster instead (env KUBECONFIG; in a pod the in-cluster config): the plan goes",
    '                    into Secret meshca-rotation, every replica applies it and reports its issuances',
    "--namespace NS      the CA's namespace in Kubernetes (env POD_NAMESPACE, default istio-system)",
    '--new-cacerts DIR   prepare: the new bundle (new root, new intermediate), as "meshca certs" makes it',
    '--force             activate: even while identities have not received the new root (they break)',
    '--wait DURATION     how long to wait for the running CA (every replica) to apply a step (default 15s)',
  ],
  examples: [
    'meshca rotate prepare --new-cacerts certs-next/cluster1',
    'meshca rotate status',
    'meshca rotate activate',
    'meshca rotate finish',
    'meshca rotate status --kubeconfig ~/.kube/config --namespace istio-system',
  ],
};

const iso = (d: Date | string | undefined) => (d === undefined ? '-' : new Date(d).toISOString());

const who = (r: InServiceRecord) => (r.replica ? `replica ${r.replica}` : `the CA (pid ${r.pid})`);

/** Waits until every CA process of `store` reports `revision` in service; says so, or which did not. */
async function waitForCa(
  store: RotationStore,
  revision: number,
  waitMs: number,
  ctx: CliContext,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  const startedAt = Date.now();
  for (;;) {
    const records = await store.inService();
    const behind = records.filter((r) => r.appliedRevision < revision);
    if (records.length > 0 && behind.length === 0) {
      for (const r of records) ctx.out(`${who(r)} applied it: ${describeInService(r)}\n`);
      return;
    }
    const refusing = behind.filter((r) => r.refused && Date.parse(r.refused.at) >= startedAt - 1000);
    if (refusing.length > 0) {
      for (const r of refusing)
        ctx.err(
          `warning: ${who(r)} refused to apply it and keeps serving the last good bundle: ${r.refused!.reason}\n`,
        );
      return;
    }
    if (Date.now() > deadline) {
      ctx.err(
        records.length === 0
          ? `warning: no running CA in the ${store.where} applied this within ${waitMs / 1000}s; it takes effect when meshca serve (re)starts\n`
          : `warning: not applied within ${waitMs / 1000}s by ${behind.map(who).join(', ')}; it takes effect when they reload or restart\n`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function describeInService(r: InServiceRecord): string {
  const roots = r.roots.map((c) => `"${c.subject}" serial ${c.serial} until ${c.notAfter}`).join(', ');
  return `signing with "${r.signing.subject}" serial ${r.signing.serial} (until ${r.signing.notAfter}); trust bundle: ${roots}`;
}

async function status(store: RotationStore, ctx: CliContext): Promise<void> {
  const state = await store.readState();
  const lines: string[] = [];
  lines.push(
    state
      ? `phase: ${state.phase} (revision ${state.revision}; prepared ${state.preparedAt}${state.activatedAt ? `, activated ${state.activatedAt}` : ''}${state.finishedAt ? `, finished ${state.finishedAt}` : ''})`
      : 'phase: none (no root rotation prepared)',
  );
  const reports = await store.inService();
  for (const inService of reports) {
    const applied = state
      ? inService.appliedRevision >= state.revision
        ? 'applied'
        : 'NOT yet applied'
      : '';
    lines.push(
      `in service (${who(inService)}, ${inService.writtenAt})${applied ? `, this phase ${applied}` : ''}:`,
    );
    lines.push(`  ${describeInService(inService)}`);
    const change = inService.lastChange;
    if (change)
      lines.push(
        change.kind === 'intermediate'
          ? `  last change ${change.at}: intermediate renewed under the same root (serial ${change.previousSerial} -> ${change.serial}), a plain reload, no rotation needed`
          : `  last change ${change.at}: trust bundle or root changed (signing serial ${change.previousSerial} -> ${change.serial})`,
      );
    if (inService.refused)
      lines.push(`  last reload refused ${inService.refused.at}: ${inService.refused.reason}`);
  }
  if (reports.length === 0) lines.push(`in service: unknown (no CA has reported in the ${store.where})`);
  if (state) {
    const progress = rotationProgress(state, await store.readRecords(), new Date());
    lines.push(`confirmed: ${progress.confirmed.length}`);
    for (const c of progress.confirmed) lines.push(`  ${c.id} (received the new root ${c.at.toISOString()})`);
    lines.push(`pending: ${progress.pending.length}`);
    if (progress.pending.length > 0) {
      lines.push(describePending(progress));
      lines.push(`the last pending identity must have renewed by ${iso(progress.pendingUntil)}`);
    }
    if (state.forcedPast) lines.push(`activated by force past: ${state.forcedPast.join(', ')}`);
    if (progress.oldRootCertificatesUntil)
      lines.push(`certificates under the old root are valid until ${iso(progress.oldRootCertificatesUntil)}`);
    lines.push(next(state, progress.pending.length, progress.oldRootCertificatesUntil, store));
  }
  ctx.out(`${lines.join('\n')}\n`);
}

function next(
  state: RotationState,
  pending: number,
  oldUntil: Date | undefined,
  store: RotationStore,
): string {
  switch (state.phase) {
    case 'prepared':
      return pending === 0
        ? 'next: meshca rotate activate'
        : 'next: meshca rotate activate, once pending is 0 (workloads renew by themselves)';
    case 'activated':
      return oldUntil
        ? `next: meshca rotate finish, after ${oldUntil.toISOString()}`
        : 'next: meshca rotate finish';
    case 'finished':
      return `done: when convenient, ${store.moveInHint} (the CA serves the new bundle either way)`;
    default:
      return '';
  }
}

export async function runRotate(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const [step, ...extra] = args.positionals;
  if (!step || extra.length > 0 || !['prepare', 'status', 'activate', 'finish'].includes(step)) {
    throw invalidInput('CLI_USAGE', `Usage: ${spec.usage}\n(see "meshca rotate --help")`);
  }
  const store = await openStore(args.values, ctx);
  const waitMs = parseDurationSeconds(str(args.values.wait) ?? '15s', '--wait') * 1000;
  const newCacerts = str(args.values['new-cacerts']);
  if ((step === 'prepare') !== (newCacerts !== undefined)) {
    throw invalidInput(
      'CLI_USAGE',
      step === 'prepare'
        ? 'prepare needs the new bundle: --new-cacerts DIR'
        : `--new-cacerts belongs to prepare, not ${step}`,
    );
  }
  if (args.values.force && step !== 'activate')
    throw invalidInput('CLI_USAGE', '--force belongs to activate');
  switch (step) {
    case 'status':
      await status(store, ctx);
      return 0;
    case 'prepare': {
      const {
        state,
        next: bundle,
        current,
      } = await prepareRotation({
        store,
        newCacerts: resolve(ctx.cwd, newCacerts!),
      });
      ctx.out(
        `prepared: the trust bundle becomes the current root${current.length > 1 ? 's' : ''} (${current.map((c) => c.serialHex).join(', ')}) + the new root (${bundle.roots.map((r) => r.serialHex).join(', ')}); the current intermediate keeps signing. Watch "meshca rotate status" until pending is 0, then activate\n`,
      );
      await waitForCa(store, state.revision, waitMs, ctx);
      return 0;
    }
    case 'activate': {
      const { state, progress } = await activateRotation({ store, force: args.values.force === true });
      if (progress.pending.length > 0) {
        ctx.err(
          `warning: activated by force. These identities trust only the old root until they renew (by ${iso(progress.pendingUntil)}): mutual TLS between them and every peer that renews from the new intermediate fails (they refuse the peer's certificate) until they renew:\n${describePending(progress)}\n`,
        );
      }
      ctx.out(
        'activated: new certificates come from the new intermediate; the trust bundle keeps both roots\n',
      );
      await waitForCa(store, state.revision, waitMs, ctx);
      return 0;
    }
    case 'finish': {
      const { state } = await finishRotation({ store });
      ctx.out(
        'finished: the old root left the trust bundle; workloads get the new root alone on their next renewal\n',
      );
      await waitForCa(store, state.revision, waitMs, ctx);
      return 0;
    }
    default:
      return 2;
  }
}

/** The data directory (--data-dir, MESHCA_DATA_DIR) or the cluster (--kubeconfig, KUBECONFIG, in a pod). */
async function openStore(values: Record<string, unknown>, ctx: CliContext): Promise<RotationStore> {
  const dirFlag = str(values['data-dir']);
  if (dirFlag !== undefined && values.kubeconfig !== undefined)
    throw invalidInput('CLI_USAGE', 'give --data-dir or --kubeconfig, not both: the CA lives in one home');
  const problems = new SettingsProblems();
  const kube =
    dirFlag === undefined
      ? resolveKubernetesSettings(
          { kubeconfig: values.kubeconfig, namespace: values.namespace },
          ctx,
          problems,
        )
      : undefined;
  if (dirFlag !== undefined && values.namespace !== undefined)
    problems.add('--namespace applies to the Kubernetes home only; give --kubeconfig FILE too');
  problems.throwIfAny('rotate');
  if (kube) return kubernetesRotationStore(await loadKubeClient(kube.from), kube.namespace);
  return dataDirRotationStore(resolve(ctx.cwd, dirFlag ?? ctx.env.MESHCA_DATA_DIR ?? '.meshca'));
}
