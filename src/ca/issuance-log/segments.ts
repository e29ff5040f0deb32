// The issuance log's files: numbered segments of JSON lines, read back entry by entry. A segment
// whose tail could not be read after a crash is renamed `.damaged` and kept, never deleted.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { entryHash, type LogEntry } from './entry.js';

export const CHECKPOINTS_FILE = 'checkpoints.jsonl';
export const LOCK_FILE = 'writer.lock';
const SEGMENT_NAME = /^segment-(\d{6,})(\.damaged)?\.jsonl$/;

export interface SegmentFile {
  number: number;
  name: string;
  path: string;
  /** Set aside at a start because its tail could not be read; a break entry follows it. */
  damaged: boolean;
}

export const segmentName = (n: number, damaged = false) =>
  `segment-${String(n).padStart(6, '0')}${damaged ? '.damaged' : ''}.jsonl`;

/** The segments of `dir`, oldest first. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const names = await readdir(dir);
  return names
    .flatMap((name) => {
      const m = SEGMENT_NAME.exec(name);
      return m ? [{ number: Number(m[1]), name, path: join(dir, name), damaged: m[2] !== undefined }] : [];
    })
    .sort((a, b) => a.number - b.number);
}

export interface ParsedSegment {
  entries: LogEntry[];
  /** Bytes of the segment that hold whole, valid entries. */
  goodBytes: number;
  /** Why reading stopped before the end (undefined when the whole segment was read). */
  stop?: { line: number; reason: string };
}

/**
 * Reads whole entries from the start of `data` while each is a complete line of JSON whose `hash`
 * is its own and which follows the one before it (`seq` one more, `prev` its hash). `after` is the
 * entry before the segment's first one, when known.
 */
export function parseSegment(data: Buffer, after?: { seq: number; hash: string }): ParsedSegment {
  const entries: LogEntry[] = [];
  let offset = 0;
  let line = 0;
  let last = after;
  while (offset < data.length) {
    line++;
    const end = data.indexOf(0x0a, offset);
    const stop = (reason: string) => ({ entries, goodBytes: offset, stop: { line, reason } });
    if (end < 0) return stop('the last line is incomplete (no newline): a write cut short');
    let entry: LogEntry;
    try {
      entry = JSON.parse(data.subarray(offset, end).toString('utf8')) as LogEntry;
    } catch {
      return stop('not JSON');
    }
    if (typeof entry !== 'object' || entry === null || typeof entry.hash !== 'string')
      return stop('not a log entry');
    if (entryHash(entry) !== entry.hash)
      return stop(`seq ${entry.seq}: the entry does not match its hash (changed)`);
    if (last && entry.seq !== last.seq + 1)
      return stop(`seq ${entry.seq} follows seq ${last.seq} (an entry removed, added or reordered)`);
    if (last && entry.prev !== last.hash)
      return stop(`seq ${entry.seq}: prev is not the hash of seq ${last.seq} (the chain is broken)`);
    entries.push(entry);
    last = entry;
    offset = end + 1;
  }
  return { entries, goodBytes: offset };
}
