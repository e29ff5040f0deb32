// The issuance log on its own: group commit, the chain and its checkpoints, and every kind of
// tampering the verifier must catch (changed, removed, reordered, truncated entries; forged
// checkpoints), plus a torn tail after a crash, segment rollover, retention and the writer lock.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Checkpoint, signCheckpoint } from '../../../src/ca/issuance-log/checkpoint.js';
import { canonicalJson, entryHash, GENESIS_HASH } from '../../../src/ca/issuance-log/entry.js';
import { type IssuanceLog, openIssuanceLog } from '../../../src/ca/issuance-log/issuance-log.js';
import { keyIdOf } from '../../../src/ca/issuance-log/log-key.js';
import {
  latestCheckpoint,
  readLogEntries,
  verifyIssuanceLog,
} from '../../../src/ca/issuance-log/verify-issuance-log.js';
import { silentLogger } from '../../../src/log.js';
import { assertRejectsCode } from '../../support/assert-error.js';
import { issuedFields } from './issued-fields.js';

const fields = issuedFields;

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshca-issuance-log-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
let n = 0;
const freshDir = () => join(root, `log${n++}`);

/** A closed log of `count` entries in `dir`, written concurrently. */
async function writeLog(
  dir: string,
  count: number,
  settings: { segmentBytes?: number; retainSegments?: number } = {},
) {
  const log = await openIssuanceLog({ dir, log: silentLogger, ...settings });
  await Promise.all(Array.from({ length: count }, (_, i) => log.append(fields(i))));
  await log.close();
}

const segmentPath = async (dir: string) =>
  join(dir, (await readdir(dir)).filter((f) => /^segment-\d+\.jsonl$/.test(f)).sort()[0]!);
async function editLines(dir: string, edit: (lines: string[]) => string[]) {
  const path = await segmentPath(dir);
  const lines = (await readFile(path, 'utf8')).split('\n').slice(0, -1);
  await writeFile(path, `${edit(lines).join('\n')}\n`);
}

describe('the issuance log', () => {
  test('concurrent appends are chained in order, committed in groups, and verified with their checkpoint', async () => {
    const dir = freshDir();
    const log = await openIssuanceLog({ dir, log: silentLogger });
    const entries = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(fields(i))));
    assert.deepEqual(
      entries.map((e) => e.seq),
      entries.map((_, i) => i),
    );
    assert.equal(entries[0]!.prev, GENESIS_HASH);
    for (const [i, e] of entries.entries()) {
      if (i > 0) assert.equal(e.prev, entries[i - 1]!.hash);
      assert.equal(e.hash, entryHash(e));
    }
    const { commits } = log.stats();
    assert.ok(commits < 200, `group commit: 200 entries in ${commits} fsyncs`);
    await log.close();
    const report = await verifyIssuanceLog(dir);
    assert.deepEqual(report.problems, []);
    assert.equal(report.entries, 200);
    assert.equal(report.checkpoints, 1);
    const c = await latestCheckpoint(dir);
    assert.equal(c?.size, 200);
    assert.equal(c?.head, entries.at(-1)!.hash);
  });

  test('the hash is SHA-256 of the canonical JSON (sorted keys, no whitespace) without "hash"', async () => {
    const dir = freshDir();
    await writeLog(dir, 1);
    const line = (await readFile(await segmentPath(dir), 'utf8')).trim();
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.equal(line, canonicalJson(entry), 'each line is itself canonical JSON');
    const { hash, ...rest } = entry;
    const keys = Object.keys(rest).sort();
    const text = `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(rest[k])}`).join(',')}}`;
    assert.equal(hash, createHash('sha256').update(text).digest('hex'));
  });

  test('the log key is 0600 in a 0700 directory and is not reused from elsewhere', async () => {
    const dir = freshDir();
    await writeLog(dir, 1);
    assert.equal(((await stat(join(dir, 'log-key.pem'))).mode & 0o777).toString(8), '600');
    assert.equal(((await stat(dir)).mode & 0o777).toString(8), '700');
  });

  test('a second writer on the same directory is refused while the first runs', async () => {
    const dir = freshDir();
    const first = await openIssuanceLog({ dir, log: silentLogger });
    await assertRejectsCode(() => openIssuanceLog({ dir, log: silentLogger }), 'LOG_LOCKED', 'config');
    await first.close();
    const again = await openIssuanceLog({ dir, log: silentLogger });
    await again.close();
  });

  test('a reopened log carries on the chain in a new segment', async () => {
    const dir = freshDir();
    await writeLog(dir, 3);
    await writeLog(dir, 2);
    const { entries } = await readLogEntries(dir);
    assert.deepEqual(
      entries.map((e) => e.seq),
      [0, 1, 2, 3, 4],
    );
    const report = await verifyIssuanceLog(dir);
    assert.deepEqual(report.problems, []);
    assert.equal(report.segments, 2);
  });
});

describe('meshca log verify catches tampering', () => {
  /** A log of 10 entries, its own checkpoint, and a copy of it kept by the verifier. */
  async function logWithHeldCheckpoint(): Promise<{
    dir: string;
    held: { checkpoint: Checkpoint; source: string }[];
  }> {
    const dir = freshDir();
    await writeLog(dir, 10);
    const checkpoint = (await latestCheckpoint(dir))!;
    return { dir, held: [{ checkpoint, source: 'kept.json' }] };
  }

  test('an intact log passes, with the held checkpoint', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    assert.deepEqual((await verifyIssuanceLog(dir, held)).problems, []);
  });

  test('a changed entry (its hash no longer matches)', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    await editLines(dir, (lines) => lines.map((l, i) => (i === 4 ? l.replace('sa4', 'sa9') : l)));
    const { problems } = await verifyIssuanceLog(dir, held);
    assert.deepEqual(problems, [
      `segment-000001.jsonl line 5: seq 4 does not match its hash (the entry was changed)`,
    ]);
  });

  test('a changed entry whose hash was recomputed breaks the chain after it, and the checkpoint', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    await editLines(dir, (lines) =>
      lines.map((l, i) => {
        if (i !== 9) return l;
        const e = JSON.parse(l);
        e.spiffeId = 'spiffe://cluster.local/ns/evil/sa/x';
        e.hash = entryHash(e);
        return canonicalJson(e);
      }),
    );
    const { problems } = await verifyIssuanceLog(dir, held);
    assert.deepEqual(problems, [
      "checkpoints.jsonl line 1: entry seq 9 is not the one signed (its hash differs from the checkpoint's head)",
      "checkpoint kept.json: entry seq 9 is not the one signed (its hash differs from the checkpoint's head)",
    ]);
  });

  test('a removed entry', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    await editLines(dir, (lines) => lines.filter((_, i) => i !== 3));
    const { problems } = await verifyIssuanceLog(dir, held);
    assert.equal(
      problems[0],
      'segment-000001.jsonl line 4: seq 4 follows seq 2 (an entry was removed, inserted or reordered)',
    );
  });

  test('reordered entries', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    await editLines(dir, (lines) => [...lines.slice(0, 2), lines[3]!, lines[2]!, ...lines.slice(4)]);
    const { problems } = await verifyIssuanceLog(dir, held);
    assert.deepEqual(problems.slice(0, 2), [
      'segment-000001.jsonl line 3: seq 3 follows seq 1 (an entry was removed, inserted or reordered)',
      'segment-000001.jsonl line 4: seq 2 follows seq 3 (an entry was removed, inserted or reordered)',
    ]);
  });

  test('a truncated log (its own checkpoints truncated too) fails against the held checkpoint', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    await editLines(dir, (lines) => lines.slice(0, 7));
    await writeFile(join(dir, 'checkpoints.jsonl'), '');
    assert.deepEqual(
      (await verifyIssuanceLog(dir)).problems,
      [],
      'without a held checkpoint a cut end looks whole',
    );
    const { problems } = await verifyIssuanceLog(dir, held);
    assert.deepEqual(problems, [
      'checkpoint kept.json: signed 10 entries, but the log holds 7 (entries were removed from its end)',
    ]);
  });

  test('a truncated log fails against its own checkpoints', async () => {
    const { dir } = await logWithHeldCheckpoint();
    await editLines(dir, (lines) => lines.slice(0, 7));
    assert.deepEqual((await verifyIssuanceLog(dir)).problems, [
      'checkpoints.jsonl line 1: signed 10 entries, but the log holds 7 (entries were removed from its end)',
    ]);
  });

  test('a forged checkpoint: altered, or signed by another key', async () => {
    const { dir, held } = await logWithHeldCheckpoint();
    const altered = { ...held[0]!.checkpoint, size: 9 };
    const other = generateKeyPairSync('ed25519');
    const foreign = signCheckpoint(
      { privateKey: other.privateKey, keyId: keyIdOf(other.publicKey) },
      10,
      held[0]!.checkpoint.head,
    );
    const { problems } = await verifyIssuanceLog(dir, [
      { checkpoint: altered, source: 'altered.json' },
      { checkpoint: foreign, source: 'foreign.json' },
    ]);
    assert.deepEqual(problems, [
      "checkpoint altered.json: the signature is not the log key's (forged, altered, or from another log)",
      "checkpoint foreign.json: the signature is not the log key's (forged, altered, or from another log)",
    ]);
  });
});

describe('crashes, rollover and retention', () => {
  test('a torn tail is kept aside, recorded as a break, reported, and the chain goes on', async () => {
    const dir = freshDir();
    await writeLog(dir, 5);
    const torn = '{"certSha256":"abc';
    await appendFile(await segmentPath(dir), torn);
    const damage: unknown[] = [];
    const log: IssuanceLog = await openIssuanceLog({
      dir,
      log: silentLogger,
      onDamage: (r) => damage.push(r),
    });
    const next = await log.append(fields(5));
    await log.close();
    assert.deepEqual(damage, [
      {
        damagedFile: 'segment-000001.damaged.jsonl',
        damagedBytes: torn.length,
        reason: 'line 6: the last line is incomplete (no newline): a write cut short',
        goodEntries: 5,
      },
    ]);
    assert.equal(
      await readFile(join(dir, 'segment-000001.damaged.jsonl'), 'utf8').then((t) => t.endsWith(torn)),
      true,
    );
    assert.equal(next.seq, 6, 'seq 5 is the break entry');
    const report = await verifyIssuanceLog(dir);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.breaks, [
      {
        seq: 5,
        damagedFile: 'segment-000001.damaged.jsonl',
        damagedBytes: torn.length,
        reason: 'line 6: the last line is incomplete (no newline): a write cut short',
      },
    ]);
  });

  test('a changed whole entry at the end is not taken for a torn tail: the start is refused', async () => {
    const dir = freshDir();
    await writeLog(dir, 5);
    await editLines(dir, (lines) => lines.map((l, i) => (i === 3 ? l.replace('sa3', 'sa7') : l)));
    await assertRejectsCode(
      () => openIssuanceLog({ dir, log: silentLogger }),
      'LOG_CORRUPT',
      'config',
      /has an entry that is not what was written at line 4 \(seq 3: the entry does not match its hash \(changed\)\)/,
    );
    assert.ok(!(await readdir(dir)).includes('writer.lock'), 'a refused start leaves no lock behind');
  });

  test('bytes added to a damaged file after the break was recorded are caught', async () => {
    const dir = freshDir();
    await writeLog(dir, 2);
    await appendFile(await segmentPath(dir), 'x');
    await writeLog(dir, 1);
    await appendFile(join(dir, 'segment-000001.damaged.jsonl'), 'more');
    const { problems } = await verifyIssuanceLog(dir);
    assert.match(
      problems[0]!,
      /segment-000001\.damaged\.jsonl \(5 damaged bytes\) is not followed by the break entry/,
    );
  });

  test('segments roll over by size and retention keeps the newest', async () => {
    const dir = freshDir();
    const log = await openIssuanceLog({ dir, log: silentLogger, segmentBytes: 2000, retainSegments: 3 });
    for (let i = 0; i < 30; i++) await log.append(fields(i));
    await log.close();
    const segments = (await readdir(dir)).filter((f) => f.startsWith('segment-'));
    assert.equal(segments.length, 3);
    const report = await verifyIssuanceLog(dir);
    assert.deepEqual(report.problems, []);
    assert.ok(report.firstSeq > 0);
    assert.equal(report.firstSeq + report.entries, 30);
    assert.match(report.notes[0]!, /^entries before seq \d+ are no longer kept \(segment retention\)$/);
  });
});
