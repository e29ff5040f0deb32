// The issuance log writer: appends entries to the current segment with group commit (the entries
// that arrive while one write+fsync is under way go together in the next), resolves each append
// only once its entry is on disk, rolls segments over by size, keeps a number of them, and signs
// checkpoints at intervals and on close. One writer per log directory (writer.lock).
import { type FileHandle, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, unavailable } from '../../errors.js';
import { syncDir } from '../../lib/atomic-file.js';
import { diskFullError } from '../../lib/disk-full.js';
import { makePrivateDirectory } from '../../lib/make-private-directory.js';
import type { Logger } from '../../log.js';
import { type Checkpoint, signCheckpoint } from './checkpoint.js';
import {
  chainEntry,
  type EntryFields,
  entryLine,
  GENESIS_HASH,
  type IssuedFields,
  type LogEntry,
} from './entry.js';
import { type LogKey, openLogKey } from './log-key.js';
import { CHECKPOINTS_FILE, LOCK_FILE, listSegments, parseSegment, segmentName } from './segments.js';

export interface IssuanceLogSettings {
  dir: string;
  /** A segment that has reached this size is closed and the next one started (default 64 MiB). */
  segmentBytes?: number;
  /** How many segments to keep, the current one included; 0 keeps all (default 0). */
  retainSegments?: number;
  /** How often to sign a checkpoint when entries were added (default 60 s). */
  checkpointIntervalMs?: number;
  log: Logger;
  /** Called once per damaged tail found at open (for a metric). */
  onDamage?: (report: DamageReport) => void;
}

export interface DamageReport {
  damagedFile: string;
  damagedBytes: number;
  reason: string;
  /** The entries of that segment that were whole and are kept in the chain. */
  goodEntries: number;
}

export interface IssuanceLog {
  readonly dir: string;
  /** Resolves once the entry is written and fsynced; rejects if it could not be (LOG_WRITE_FAILED). */
  append(fields: Omit<IssuedFields, 'time'>): Promise<LogEntry>;
  /** Signs and stores a checkpoint of what is on disk now. */
  checkpoint(): Promise<Checkpoint>;
  /** Entries on disk, and how many write+fsync rounds put them there (fewer, thanks to group commit). */
  stats(): { entries: number; commits: number };
  /** Waits for pending appends, signs a last checkpoint, releases the directory. */
  close(): Promise<void>;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written);
    written += bytesWritten;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The log directories this process writes (its own pid in a lock file is not a stale lock then). */
const lockedHere = new Set<string>();

/** Takes writer.lock, or refuses while another live process holds it (a dead one's lock is stale). */
async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  if (lockedHere.has(path))
    throw configError(
      'LOG_LOCKED',
      `the issuance log in ${dir} is already being written by this process; give each server its own --issuance-log-dir`,
    );
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      lockedHere.add(path);
      return async () => {
        lockedHere.delete(path);
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
      throw configError(
        'LOG_LOCKED',
        `the issuance log in ${dir} is being written by another process (pid ${pid}); run one "meshca serve" per log directory, or give this one its own --issuance-log-dir`,
      );
    await unlink(path).catch(() => {});
  }
  throw configError('LOG_LOCKED', `cannot take the issuance log lock ${path}; remove it if no meshca runs`);
}

interface Tail {
  /** The number of the segment to append to next. */
  segment: number;
  size: number;
  head: string;
}

/**
 * What a crash in the middle of a write leaves after the last whole entry: the start of one line
 * (no newline yet), or blocks the file system allocated but never filled (zeros).
 */
function isTornTail(rest: Buffer): boolean {
  const text = rest.toString('latin1').replace(/\0+$/, '');
  return !text.includes('\n') || /^\0*$/.test(text.replace(/\n/g, ''));
}

/**
 * Finds where the chain ends. A last segment that does not read to its end (a write cut short by a
 * crash) is renamed `.damaged`, kept, and a break entry starts the next segment.
 */
async function recover(
  dir: string,
  opts: IssuanceLogSettings,
): Promise<{ tail: Tail; breaks: EntryFields[] }> {
  const segments = (await listSegments(dir)).filter((s) => !s.damaged);
  const damagedBefore = (await listSegments(dir)).filter((s) => s.damaged);
  const lastNumber = Math.max(0, ...segments.map((s) => s.number), ...damagedBefore.map((s) => s.number));
  const breaks: EntryFields[] = [];
  // Walk back to the newest segment holding an entry; a segment made just before a crash may be empty.
  for (let i = segments.length - 1; i >= 0; i--) {
    const seg = segments[i]!;
    const data = await readFile(seg.path);
    const parsed = parseSegment(data);
    if (parsed.stop && i === segments.length - 1 && !isTornTail(data.subarray(parsed.goodBytes))) {
      // Whole lines that do not check out are not what a crash leaves: an entry was changed. Starting
      // would bury that under a break entry, so the start is refused instead.
      throw configError(
        'LOG_CORRUPT',
        `the issuance log segment ${seg.path} has an entry that is not what was written at line ${parsed.stop.line} (${parsed.stop.reason}); run "meshca log verify", keep the directory as evidence and give serve a new --issuance-log-dir`,
      );
    }
    if (parsed.stop && i === segments.length - 1) {
      const report: DamageReport = {
        damagedFile: segmentName(seg.number, true),
        damagedBytes: data.length - parsed.goodBytes,
        reason: `line ${parsed.stop.line}: ${parsed.stop.reason}`,
        goodEntries: parsed.entries.length,
      };
      await rename(seg.path, join(dir, report.damagedFile));
      await syncDir(dir);
      opts.log.error(
        'the issuance log ended in an unreadable tail (a crash during a write?); kept it aside and recorded a break',
        {
          event: 'issuance-log-damaged',
          ...report,
        },
      );
      opts.onDamage?.(report);
      breaks.push({
        kind: 'break',
        time: new Date().toISOString(),
        damagedFile: report.damagedFile,
        damagedBytes: report.damagedBytes,
        reason: report.reason,
      });
    } else if (parsed.stop) {
      // Only the last segment can be cut short by a crash; anything else is for "meshca log verify".
      throw configError(
        'LOG_CORRUPT',
        `the issuance log segment ${seg.path} is damaged at line ${parsed.stop.line} (${parsed.stop.reason}) but is not the last one; run "meshca log verify" and move the log directory aside to start a new log`,
      );
    }
    const last = parsed.entries.at(-1);
    if (last) return { tail: { segment: lastNumber + 1, size: last.seq + 1, head: last.hash }, breaks };
  }
  return { tail: { segment: lastNumber + 1, size: 0, head: GENESIS_HASH }, breaks };
}

export async function openIssuanceLog(opts: IssuanceLogSettings): Promise<IssuanceLog> {
  try {
    return await openLog(opts);
  } catch (err) {
    throw diskFullError(err, opts.dir) ?? err;
  }
}

async function openLog(opts: IssuanceLogSettings): Promise<IssuanceLog> {
  const dir = opts.dir;
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const retain = opts.retainSegments ?? 0;
  await makePrivateDirectory(dir);
  const release = await lockDirectory(dir);
  let key: LogKey;
  let tail: Tail;
  let breaks: EntryFields[];
  try {
    key = await openLogKey(dir);
    ({ tail, breaks } = await recover(dir, opts));
  } catch (err) {
    await release();
    throw err;
  }
  // Each start writes a fresh segment, so a segment is only ever appended to by the process that made it.
  let segment = tail.segment;
  let handle = await open(join(dir, segmentName(segment)), 'wx', 0o600);
  await syncDir(dir);
  let segmentSize = 0;
  let size = tail.size;
  let head = tail.head;
  let failed: Error | undefined;
  let commits = 0;
  let queue: { fields: EntryFields; resolve: (e: LogEntry) => void; reject: (e: Error) => void }[] = [];
  let writing: Promise<void> | undefined;

  const applyRetention = async () => {
    if (retain <= 0) return;
    const all = await listSegments(dir);
    for (const old of all.slice(0, Math.max(0, all.length - retain))) {
      if (old.number === segment) continue;
      await unlink(old.path);
      opts.log.info('issuance log segment removed (retention)', {
        event: 'issuance-log-retention',
        file: old.name,
      });
    }
  };
  const rollOver = async () => {
    await handle.close();
    segment++;
    handle = await open(join(dir, segmentName(segment)), 'wx', 0o600);
    await syncDir(dir);
    segmentSize = 0;
    await applyRetention();
  };
  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        if (failed) throw failed;
        if (segmentSize >= segmentBytes) await rollOver();
        let seq = size;
        let prev = head;
        const entries = batch.map(({ fields }) => {
          const entry = chainEntry(fields, seq++, prev);
          prev = entry.hash;
          return entry;
        });
        const data = Buffer.from(entries.map(entryLine).join(''), 'utf8');
        await writeAll(handle, data);
        await handle.datasync();
        segmentSize += data.length;
        commits++;
        size = seq;
        head = prev;
        for (const [i, item] of batch.entries()) item.resolve(entries[i]!);
      } catch (err) {
        // What reached the disk is unknown now: no later entry may chain onto it. Refuse until restart,
        // when the tail is read back (and, if torn, set aside).
        failed ??= unavailable(
          'LOG_WRITE_FAILED',
          `cannot write the issuance log in ${dir}: ${(diskFullError(err, dir) ?? (err as Error)).message}; certificates are refused until the log can be written (restart meshca once fixed)`,
          err,
        );
        opts.log.error('issuance log write failed; refusing to issue', {
          event: 'issuance-log-failed',
          reason: (err as Error).message,
        });
        for (const item of batch) item.reject(failed);
      }
    }
    writing = undefined;
  };
  const enqueue = (fields: EntryFields) =>
    new Promise<LogEntry>((resolve, reject) => {
      if (failed) return reject(failed);
      queue.push({ fields, resolve, reject });
      writing ??= drain();
    });

  let checkpoints = Promise.resolve<Checkpoint | undefined>(undefined);
  let checkpointedSize = -1;
  const checkpoint = () => {
    const next = checkpoints.then(async () => {
      const c = signCheckpoint(key, size, head);
      const file = await open(join(dir, CHECKPOINTS_FILE), 'a', 0o600);
      try {
        await writeAll(file, Buffer.from(`${JSON.stringify(c)}\n`, 'utf8'));
        await file.datasync();
      } finally {
        await file.close();
      }
      checkpointedSize = c.size;
      return c;
    });
    checkpoints = next.catch(() => undefined);
    return next;
  };

  await Promise.all(breaks.map(enqueue));
  const timer = setInterval(() => {
    if (size !== checkpointedSize && !failed)
      checkpoint().catch((err: Error) =>
        opts.log.error('cannot write an issuance log checkpoint', {
          event: 'issuance-log-checkpoint-failed',
          reason: err.message,
        }),
      );
  }, opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
  timer.unref();
  opts.log.info('issuance log open', {
    event: 'issuance-log-open',
    dir,
    entries: size,
    segment: segmentName(segment),
  });
  let closed = false;

  return {
    dir,
    append: (fields) => {
      if (closed)
        return Promise.reject(
          unavailable('LOG_WRITE_FAILED', `the issuance log in ${dir} is closed (shutting down)`),
        );
      return enqueue({ ...fields, time: new Date().toISOString() } as IssuedFields);
    },
    checkpoint,
    stats: () => ({ entries: size, commits }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      while (writing) await writing;
      try {
        if (!failed) await checkpoint();
      } finally {
        await handle.close().catch(() => {});
        if (segmentSize === 0) await unlink(join(dir, segmentName(segment))).catch(() => {});
        await release();
      }
    },
  };
}
