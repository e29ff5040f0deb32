// `meshca log`: reads the issuance log that `meshca serve` keeps (by default <data-dir>/log):
// verify the chain and checkpoints, print the latest checkpoint for safekeeping, list and show entries.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { normalizeSerial } from '../ca/issuance-log/certificate-fields.js';
import { type Checkpoint, parseCheckpoint } from '../ca/issuance-log/checkpoint.js';
import type { LogEntry } from '../ca/issuance-log/entry.js';
import { keyIdOf, LOG_PUBLIC_KEY_FILE, readLogPublicKey } from '../ca/issuance-log/log-key.js';
import {
  assertLogDirectory,
  latestCheckpoint,
  readLogEntries,
  verifyIssuanceLog,
} from '../ca/issuance-log/verify-issuance-log.js';
import { caUnusable, configError, invalidInput } from '../errors.js';
import { type CommandSpec, list, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { pick, pickOptional } from './settings.js';

const spec: CommandSpec = {
  name: 'log',
  summary: 'the issuance log: verify it, print its latest checkpoint, list and show what was issued',
  usage: 'meshca log verify|checkpoint|list|show SERIAL [--data-dir DIR] [--issuance-log-dir DIR] [options]',
  options: {
    'data-dir': { type: 'string' },
    'issuance-log-dir': { type: 'string' },
    checkpoint: { type: 'string', multiple: true },
    'spiffe-id': { type: 'string' },
    since: { type: 'string' },
    signer: { type: 'string' },
  },
  allowPositionals: true,
  optionHelp: [
    "--data-dir DIR           the CA's data directory (env MESHCA_DATA_DIR, default ./.meshca); the log is <data-dir>/log",
    '--issuance-log-dir DIR   the log directory, when serve was given one (env MESHCA_ISSUANCE_LOG_DIR)',
    'verify [--checkpoint FILE]  check every entry, the chain and every checkpoint, and each FILE kept earlier',
    '                         (repeatable); exit 0 when intact, 1 when anything was changed, removed,',
    '                         reordered or truncated, or a checkpoint is forged',
    'checkpoint               print the latest signed checkpoint (one JSON line) to keep elsewhere',
    'list [--spiffe-id ID] [--since TIME|DUR] [--signer S]  one line per certificate, oldest first',
    'show SERIAL              the entry of one certificate (serial in hex, colons and case ignored)',
  ],
  examples: [
    'meshca log verify --data-dir /var/lib/meshca',
    'meshca log checkpoint > checkpoint-$(date +%F).json',
    'meshca log verify --checkpoint checkpoint-2026-01-01.json',
    'meshca log list --spiffe-id spiffe://cluster.local/ns/foo/sa/sleep --since 24h',
    'meshca log show 5f1c0a…',
  ],
};

/** The chains to read: the log directory, and one per worker of `serve --workers N`. */
function logDirectories(base: string): string[] {
  assertLogDirectory(base);
  const workers = readdirSync(base)
    .filter((name) => /^worker-\d+$/.test(name))
    .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))
    .map((name) => join(base, name));
  const dirs = [...(existsSync(join(base, LOG_PUBLIC_KEY_FILE)) ? [base] : []), ...workers];
  if (dirs.length === 0)
    throw configError('LOG_NOT_FOUND', `${base} holds no issuance log (no ${LOG_PUBLIC_KEY_FILE})`);
  return dirs;
}

async function readHeld(paths: string[], cwd: string): Promise<{ checkpoint: Checkpoint; source: string }[]> {
  return Promise.all(
    paths.map(async (p) => {
      const path = resolve(cwd, p);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw invalidInput(
          'LOG_BAD_CHECKPOINT',
          `--checkpoint ${path} cannot be read: ${(err as Error).message}`,
        );
      }
      return { checkpoint: parseCheckpoint(text.trim(), path), source: path };
    }),
  );
}

function parseSince(text: string, now: Date): Date {
  const at = new Date(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(at.getTime())) return at;
  try {
    return new Date(now.getTime() - parseDurationSeconds(text, '--since') * 1000);
  } catch {
    throw invalidInput(
      'LOG_BAD_FILTER',
      `--since "${text}": give an ISO 8601 time (2026-01-31T12:00:00Z) or a duration back from now (90m, 24h, 7d)`,
    );
  }
}

const identityOf = (e: LogEntry) =>
  e.kind === 'break' ? `(break: ${e.damagedFile})` : (e.spiffeId ?? e.dnsNames.join(','));

export async function runLog(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const [sub, ...rest] = args.positionals;
  const dataDir = resolve(
    ctx.cwd,
    pick(str(args.values['data-dir']), ctx.env, 'MESHCA_DATA_DIR', '.meshca').value,
  );
  const dirFlag = pickOptional(str(args.values['issuance-log-dir']), ctx.env, 'MESHCA_ISSUANCE_LOG_DIR');
  const base = dirFlag === undefined ? join(dataDir, 'log') : resolve(ctx.cwd, dirFlag);
  const usage = (message: string) =>
    invalidInput('CLI_USAGE', `${message}\nUsage: ${spec.usage}\n(see "meshca log --help")`);
  if ((sub === 'show' && rest.length !== 1) || (sub !== 'show' && rest.length > 0))
    throw usage(sub === 'show' ? 'give one serial number' : `unexpected ${rest.join(' ')}`);

  switch (sub) {
    case 'verify': {
      const dirs = logDirectories(base);
      const held = await readHeld(list(args.values.checkpoint), ctx.cwd);
      const failures: string[] = [];
      const claimed = new Set<(typeof held)[number]>();
      for (const dir of dirs) {
        // A kept checkpoint belongs to the chain whose key signed it (workers each have their own).
        const keyId = keyIdOf(await readLogPublicKey(dir));
        const mine = dirs.length === 1 ? held : held.filter((h) => h.checkpoint.keyId === keyId);
        for (const h of mine) claimed.add(h);
        const report = await verifyIssuanceLog(dir, mine);
        ctx.out(
          `${dir}: ${report.entries} entries (seq ${report.firstSeq}…${report.firstSeq + report.entries - 1}) in ${report.segments} segments, ${report.checkpoints} checkpoints, head ${report.head}\n`,
        );
        for (const b of report.breaks)
          ctx.out(
            `  break at seq ${b.seq}: ${b.damagedBytes} unreadable bytes kept in ${b.damagedFile} (${b.reason})\n`,
          );
        for (const note of report.notes) ctx.out(`  note: ${note}\n`);
        for (const problem of report.problems) ctx.out(`  FAILED: ${problem}\n`);
        failures.push(...report.problems.map((p) => `${dir}: ${p}`));
      }
      for (const h of held)
        if (!claimed.has(h)) failures.push(`checkpoint ${h.source}: signed by a key none of these logs has`);
      if (failures.length > 0)
        throw caUnusable(
          'LOG_VERIFY_FAILED',
          `the issuance log fails verification (${failures.length} problem${failures.length === 1 ? '' : 's'}):\n  ${failures.join('\n  ')}`,
        );
      ctx.out('verified: every entry, the chain and every checkpoint are intact\n');
      return 0;
    }
    case 'checkpoint': {
      for (const dir of logDirectories(base)) {
        const latest = await latestCheckpoint(dir);
        if (!latest)
          throw configError(
            'LOG_NOT_FOUND',
            `the issuance log in ${dir} has no checkpoint yet; "meshca serve" signs one every checkpoint interval and when it stops`,
          );
        ctx.out(`${JSON.stringify(latest)}\n`);
      }
      return 0;
    }
    case 'list': {
      const spiffeId = str(args.values['spiffe-id']);
      const signer = str(args.values.signer);
      const sinceText = str(args.values.since);
      const since = sinceText === undefined ? undefined : parseSince(sinceText, new Date());
      const lines: string[] = [];
      for (const dir of logDirectories(base)) {
        for (const e of (await readLogEntries(dir)).entries) {
          if (e.kind === 'break') continue;
          if (spiffeId !== undefined && e.spiffeId !== spiffeId) continue;
          if (signer !== undefined && e.signer !== signer) continue;
          if (since && new Date(e.time) < since) continue;
          lines.push(
            [e.time, e.serial, e.signer, identityOf(e), `${e.requester.via}:${e.requester.subject}`].join(
              '\t',
            ),
          );
        }
      }
      lines.sort();
      ctx.out(['TIME\tSERIAL\tSIGNER\tIDENTITY\tREQUESTER', ...lines].join('\n') + '\n');
      return 0;
    }
    case 'show': {
      const serial = normalizeSerial(rest[0]!);
      if (!/^[0-9a-f]+$/.test(serial)) throw usage(`"${rest[0]}" is not a serial number in hex`);
      const found: LogEntry[] = [];
      for (const dir of logDirectories(base))
        found.push(
          ...(await readLogEntries(dir)).entries.filter((e) => e.kind !== 'break' && e.serial === serial),
        );
      if (found.length === 0)
        throw invalidInput(
          'LOG_SERIAL_NOT_FOUND',
          `no certificate with serial ${serial} is in the issuance log in ${base}`,
        );
      for (const e of found) ctx.out(`${JSON.stringify(e, null, 2)}\n`);
      return 0;
    }
    default:
      throw usage(
        sub === undefined
          ? 'say what to do: verify, checkpoint, list or show SERIAL'
          : `unknown subcommand "${sub}"`,
      );
  }
}
