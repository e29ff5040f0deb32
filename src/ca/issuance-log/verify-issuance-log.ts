// Checks an issuance log as someone who does not trust the writer would: every entry's hash, the
// chain from entry to entry and segment to segment, every break against the damaged file it names,
// and every checkpoint (the log's own and any the verifier kept) against the chain and the log key.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError } from '../../errors.js';
import { type Checkpoint, checkpointSignatureValid, parseCheckpoint } from './checkpoint.js';
import { entryHash, GENESIS_HASH, type LogEntry } from './entry.js';
import { readLogPublicKey } from './log-key.js';
import { CHECKPOINTS_FILE, listSegments, parseSegment } from './segments.js';

export interface VerifyReport {
  /** Entries read (all segments kept). */
  entries: number;
  /** The seq of the first entry kept (more than 0 once retention removed segments). */
  firstSeq: number;
  /** The hash of the last entry: what the next checkpoint will sign. */
  head: string;
  segments: number;
  checkpoints: number;
  breaks: { seq: number; damagedFile: string; damagedBytes: number; reason: string }[];
  /** What makes the log fail verification. */
  problems: string[];
  /** What a reader should know but is not a failure (retention, a torn last checkpoint line). */
  notes: string[];
}

export function assertLogDirectory(dir: string): void {
  if (!existsSync(dir))
    throw configError(
      'LOG_NOT_FOUND',
      `there is no issuance log in ${dir}; "meshca serve" makes it in <data-dir>/log on its first start (unless the log is turned off)`,
    );
}

/** Reads every entry of the log in `dir`, oldest first, with what was wrong on the way. */
export async function readLogEntries(dir: string): Promise<{
  entries: LogEntry[];
  segments: number;
  problems: string[];
  breaks: VerifyReport['breaks'];
}> {
  assertLogDirectory(dir);
  const entries: LogEntry[] = [];
  const problems: string[] = [];
  const breaks: VerifyReport['breaks'] = [];
  let last: LogEntry | undefined;
  let damaged: { name: string; bytes: number } | undefined;
  const segments = await listSegments(dir);
  for (const seg of segments) {
    const data = await readFile(seg.path);
    let offset = 0;
    let line = 0;
    while (offset < data.length) {
      if (seg.damaged) {
        // A damaged segment's whole entries are part of the chain; its tail is what the break entry
        // after it accounts for.
        const parsed = parseSegment(data, last);
        entries.push(...parsed.entries);
        last = parsed.entries.at(-1) ?? last;
        damaged = { name: seg.name, bytes: data.length - parsed.goodBytes };
        break;
      }
      line++;
      const end = data.indexOf(0x0a, offset);
      const at = `${seg.name} line ${line}`;
      if (end < 0) {
        problems.push(`${at}: incomplete last line (${data.length - offset} bytes without a newline)`);
        break;
      }
      const text = data.subarray(offset, end).toString('utf8');
      offset = end + 1;
      let entry: LogEntry;
      try {
        entry = JSON.parse(text) as LogEntry;
      } catch {
        problems.push(`${at}: not JSON`);
        continue;
      }
      if (typeof entry !== 'object' || entry === null || !Number.isSafeInteger(entry.seq)) {
        problems.push(`${at}: not a log entry`);
        continue;
      }
      if (entryHash(entry) !== entry.hash) {
        problems.push(`${at}: seq ${entry.seq} does not match its hash (the entry was changed)`);
        // The next entry names this one's recorded hash: checking on from it reports the change once.
        last = entry;
        continue;
      }
      if (damaged) {
        if (
          entry.kind !== 'break' ||
          entry.damagedFile !== damaged.name ||
          entry.damagedBytes !== damaged.bytes
        )
          problems.push(
            `${at}: ${damaged.name} (${damaged.bytes} damaged bytes) is not followed by the break entry that accounts for it`,
          );
        damaged = undefined;
      }
      if (last && entry.seq !== last.seq + 1)
        problems.push(
          `${at}: seq ${entry.seq} follows seq ${last.seq} (an entry was removed, inserted or reordered)`,
        );
      else if (last && entry.prev !== last.hash)
        problems.push(`${at}: seq ${entry.seq} does not chain onto seq ${last.seq} (prev is not its hash)`);
      else if (!last && entry.seq === 0 && entry.prev !== GENESIS_HASH)
        problems.push(`${at}: seq 0 does not start the chain (prev is not ${GENESIS_HASH})`);
      if (entry.kind === 'break')
        breaks.push({
          seq: entry.seq,
          damagedFile: entry.damagedFile,
          damagedBytes: entry.damagedBytes,
          reason: entry.reason,
        });
      entries.push(entry);
      last = entry;
    }
  }
  if (damaged) problems.push(`${damaged.name} is not followed by the break entry that accounts for it`);
  return { entries, segments: segments.length, problems, breaks };
}

/** Checks the log in `dir`; `held` are checkpoints the verifier kept, each with where it came from. */
export async function verifyIssuanceLog(
  dir: string,
  held: { checkpoint: Checkpoint; source: string }[] = [],
): Promise<VerifyReport> {
  const { entries, segments, problems, breaks } = await readLogEntries(dir);
  const publicKey = await readLogPublicKey(dir);
  const notes: string[] = [];
  const firstSeq = entries[0]?.seq ?? 0;
  if (firstSeq > 0) notes.push(`entries before seq ${firstSeq} are no longer kept (segment retention)`);
  const hashes = new Map(entries.map((e) => [e.seq, e.hash]));
  const lastSeq = entries.at(-1)?.seq ?? -1;

  const check = (c: Checkpoint, what: string) => {
    if (!checkpointSignatureValid(c, publicKey)) {
      problems.push(`${what}: the signature is not the log key's (forged, altered, or from another log)`);
      return;
    }
    if (c.size === 0) {
      if (c.head !== GENESIS_HASH) problems.push(`${what}: size 0 with a head other than ${GENESIS_HASH}`);
      return;
    }
    const seq = c.size - 1;
    if (seq > lastSeq)
      problems.push(
        `${what}: signed ${c.size} entries, but the log holds ${lastSeq + 1} (entries were removed from its end)`,
      );
    else if (seq < firstSeq) notes.push(`${what}: covers entries no longer kept (retention); not checked`);
    else if (hashes.get(seq) !== c.head)
      problems.push(
        `${what}: entry seq ${seq} is not the one signed (its hash differs from the checkpoint's head)`,
      );
  };

  let checkpoints = 0;
  const path = join(dir, CHECKPOINTS_FILE);
  if (existsSync(path)) {
    const lines = (await readFile(path, 'utf8')).split('\n');
    const tornLast = lines.at(-1) !== '';
    let previous = 0;
    lines.forEach((text, i) => {
      if (text === '') return;
      const what = `${CHECKPOINTS_FILE} line ${i + 1}`;
      let c: Checkpoint;
      try {
        c = parseCheckpoint(text, what);
      } catch (err) {
        if (tornLast && i === lines.length - 1)
          notes.push(`${what}: incomplete (a crash while writing it); ignored`);
        else problems.push((err as Error).message);
        return;
      }
      checkpoints++;
      if (c.size < previous)
        problems.push(
          `${what}: signs ${c.size} entries after a checkpoint of ${previous} (the log went backwards)`,
        );
      previous = Math.max(previous, c.size);
      check(c, what);
    });
  }
  for (const { checkpoint, source } of held) check(checkpoint, `checkpoint ${source}`);
  return {
    entries: entries.length,
    firstSeq,
    head: entries.at(-1)?.hash ?? GENESIS_HASH,
    segments,
    checkpoints,
    breaks,
    problems,
    notes,
  };
}

/** The newest checkpoint the log has signed, if any. */
export async function latestCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  assertLogDirectory(dir);
  const path = join(dir, CHECKPOINTS_FILE);
  if (!existsSync(path)) return undefined;
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
  for (const text of lines.reverse()) {
    try {
      return parseCheckpoint(text, path);
    } catch {
      // a torn last line after a crash: the one before it is the latest whole checkpoint
    }
  }
  return undefined;
}
