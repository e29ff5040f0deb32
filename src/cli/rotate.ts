// `meshca rotate prepare|status|activate|finish`: a staged change of the root of trust in the
// data-directory home. Each step writes the plan into <data-dir>/rotation/, then waits for the
// running CA (if any) to say it applied it, in <data-dir>/ca-status/.
import { resolve } from 'node:path';
import { activateRotation, describePending } from '../ca/rotation/activate-rotation.js';
import { finishRotation } from '../ca/rotation/finish-rotation.js';
import { type InServiceRecord, readInServiceRecord } from '../ca/rotation/in-service-record.js';
import { readIssuanceRecords } from '../ca/rotation/issuance-records.js';
import { prepareRotation } from '../ca/rotation/prepare-rotation.js';
import { rotationProgress } from '../ca/rotation/rotation-progress.js';
import { type RotationState, readRotationState } from '../ca/rotation/rotation-state.js';
import { invalidInput } from '../errors.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';

const spec: CommandSpec = {
  name: 'rotate',
  summary: 'change the root of trust of a running CA in steps, losing no workload',
  usage: 'meshca rotate <prepare --new-cacerts DIR | status | activate [--force] | finish> [--data-dir DIR]',
  allowPositionals: true,
  options: {
    'data-dir': { type: 'string' },
    'new-cacerts': { type: 'string' },
    force: { type: 'boolean' },
    wait: { type: 'string' },
  },
  optionHelp: [
    "--data-dir DIR      the CA's data directory (env MESHCA_DATA_DIR, default ./.meshca)",
    '--new-cacerts DIR   prepare: the new bundle (new root, new intermediate), as "meshca certs" makes it',
    '--force             activate: even while identities have not received the new root (they break)',
    '--wait DURATION     how long to wait for the running CA to apply a step (default 15s)',
  ],
  examples: [
    'meshca rotate prepare --new-cacerts certs-next/cluster1',
    'meshca rotate status',
    'meshca rotate activate',
    'meshca rotate finish',
  ],
};

const iso = (d: Date | string | undefined) => (d === undefined ? '-' : new Date(d).toISOString());

/** Waits until the CA on `dataDir` reports `revision` in service; says so, or that no CA did. */
async function waitForCa(dataDir: string, revision: number, waitMs: number, ctx: CliContext): Promise<void> {
  const deadline = Date.now() + waitMs;
  const startedAt = Date.now();
  for (;;) {
    const record = await readInServiceRecord(dataDir);
    if (record && record.appliedRevision >= revision) {
      ctx.out(`the CA (pid ${record.pid}) applied it: ${describeInService(record)}\n`);
      return;
    }
    if (record?.refused && Date.parse(record.refused.at) >= startedAt - 1000) {
      ctx.err(
        `warning: the CA (pid ${record.pid}) refused to apply it and keeps serving the last good bundle: ${record.refused.reason}\n`,
      );
      return;
    }
    if (Date.now() > deadline) {
      ctx.err(
        `warning: no running CA on ${dataDir} applied this within ${waitMs / 1000}s; it takes effect when "meshca serve --data-dir ${dataDir}" (re)starts\n`,
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

async function status(dataDir: string, ctx: CliContext): Promise<void> {
  const state = await readRotationState(dataDir);
  const inService = await readInServiceRecord(dataDir);
  const lines: string[] = [];
  lines.push(
    state
      ? `phase: ${state.phase} (revision ${state.revision}; prepared ${state.preparedAt}${state.activatedAt ? `, activated ${state.activatedAt}` : ''}${state.finishedAt ? `, finished ${state.finishedAt}` : ''})`
      : 'phase: none (no root rotation prepared)',
  );
  if (inService) {
    const applied = state
      ? inService.appliedRevision >= state.revision
        ? 'applied'
        : 'NOT yet applied'
      : '';
    lines.push(
      `in service (CA pid ${inService.pid}, ${inService.writtenAt})${applied ? `, this phase ${applied}` : ''}:`,
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
  } else {
    lines.push(`in service: unknown (no CA has run on ${dataDir} with this version)`);
  }
  if (state) {
    const progress = rotationProgress(state, await readIssuanceRecords(dataDir), new Date());
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
    lines.push(next(state, progress.pending.length, progress.oldRootCertificatesUntil));
  }
  ctx.out(`${lines.join('\n')}\n`);
}

function next(state: RotationState, pending: number, oldUntil: Date | undefined): string {
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
      return "done: copy the new bundle into the CA's --cacerts directory when convenient (the CA serves it either way)";
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
  const dataDir = resolve(ctx.cwd, str(args.values['data-dir']) ?? ctx.env.MESHCA_DATA_DIR ?? '.meshca');
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
      await status(dataDir, ctx);
      return 0;
    case 'prepare': {
      const {
        state,
        next: bundle,
        current,
      } = await prepareRotation({
        dataDir,
        newCacerts: resolve(ctx.cwd, newCacerts!),
      });
      ctx.out(
        `prepared: the trust bundle becomes the current root${current.length > 1 ? 's' : ''} (${current.map((c) => c.serialHex).join(', ')}) + the new root (${bundle.roots.map((r) => r.serialHex).join(', ')}); the current intermediate keeps signing. Watch "meshca rotate status" until pending is 0, then activate\n`,
      );
      await waitForCa(dataDir, state.revision, waitMs, ctx);
      return 0;
    }
    case 'activate': {
      const { state, progress } = await activateRotation({ dataDir, force: args.values.force === true });
      if (progress.pending.length > 0) {
        ctx.err(
          `warning: activated by force. These identities trust only the old root until they renew (by ${iso(progress.pendingUntil)}): mutual TLS between them and every peer that renews from the new intermediate fails (they refuse the peer's certificate) until they renew:\n${describePending(progress)}\n`,
        );
      }
      ctx.out(
        'activated: new certificates come from the new intermediate; the trust bundle keeps both roots\n',
      );
      await waitForCa(dataDir, state.revision, waitMs, ctx);
      return 0;
    }
    case 'finish': {
      const { state } = await finishRotation({ dataDir });
      ctx.out(
        'finished: the old root left the trust bundle; workloads get the new root alone on their next renewal\n',
      );
      await waitForCa(dataDir, state.revision, waitMs, ctx);
      return 0;
    }
    default:
      return 2;
  }
}
