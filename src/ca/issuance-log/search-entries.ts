// Reads the issuance log newest first, for the dashboard: the latest entries, or those of one serial
// or SPIFFE ID. Segments are read backwards in chunks, so the recent entries cost a few reads however
// large the log is; a search stops at `limit` matches or after `maxBytes`, whichever comes first.
// It shows what is there; whether the chain holds is `meshca log verify`'s question.
import { open } from 'node:fs/promises';
import type { LogEntry } from './entry.js';
import { listSegments } from './segments.js';

const CHUNK_BYTES = 256 * 1024;

export interface EntrySearch {
  /** Lower-case hex without leading zeros, as entries carry it. */
  serial?: string;
  spiffeId?: string;
  limit: number;
  /** Bytes read at most, over every directory. */
  maxBytes: number;
}

export interface SearchResult {
  /** Newest first. */
  entries: LogEntry[];
  /** True when the byte budget ran out before the oldest entry was read. */
  stoppedEarly: boolean;
  bytesRead: number;
}

/** Lines of `path` from the last to the first; a last line without its newline (being written) is skipped. */
async function* linesBackwards(path: string, budget: { left: number }): AsyncGenerator<string> {
  const handle = await open(path, 'r');
  try {
    let end = (await handle.stat()).size;
    let carry = Buffer.alloc(0);
    let first = true;
    while (end > 0 && budget.left > 0) {
      const size = Math.min(CHUNK_BYTES, end, budget.left);
      const chunk = Buffer.alloc(size);
      await handle.read(chunk, 0, size, end - size);
      end -= size;
      budget.left -= size;
      let data = Buffer.concat([chunk, carry]);
      if (first) {
        first = false;
        const lastNewline = data.lastIndexOf(0x0a);
        data = data.subarray(0, lastNewline + 1);
      }
      let stop = data.length;
      for (let i = data.length - 2; i >= -1; i--) {
        if (i >= 0 && data[i] !== 0x0a) continue;
        if (i === -1 && end > 0) break;
        const line = data
          .subarray(i + 1, stop)
          .toString('utf8')
          .trim();
        if (line) yield line;
        stop = i + 1;
      }
      carry = data.subarray(0, stop);
      // A line longer than the budget leaves a carry that can never complete; the budget ends it.
    }
  } finally {
    await handle.close();
  }
}

const matches = (e: LogEntry, q: EntrySearch) =>
  e.kind !== 'break' &&
  (q.serial === undefined || e.serial === q.serial) &&
  (q.spiffeId === undefined || e.spiffeId === q.spiffeId);

/** Entries of the logs in `dirs` (one per --workers worker, or one), newest first. */
export async function searchEntries(dirs: readonly string[], query: EntrySearch): Promise<SearchResult> {
  const budget = { left: query.maxBytes };
  const found: LogEntry[] = [];
  for (const dir of dirs) {
    const segments = await listSegments(dir);
    let mine = 0;
    for (const seg of segments.reverse()) {
      for await (const line of linesBackwards(seg.path, budget)) {
        let entry: LogEntry;
        try {
          entry = JSON.parse(line) as LogEntry;
        } catch {
          continue;
        }
        if (typeof entry !== 'object' || entry === null || !matches(entry, query)) continue;
        found.push(entry);
        if (++mine >= query.limit) break;
      }
      if (mine >= query.limit || budget.left <= 0) break;
    }
  }
  // Several chains (workers) interleave in time: the newest `limit` of them all.
  found.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : b.seq - a.seq));
  return {
    entries: found.slice(0, query.limit),
    stoppedEarly: budget.left <= 0,
    bytesRead: query.maxBytes - budget.left,
  };
}
