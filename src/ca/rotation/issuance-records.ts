// What the CA has issued, as far as a root change needs to know: per workload identity its last
// certificate (when, until when, which roots it was told to trust, which root it chains to), and per
// root the latest expiry issued under it. Kept in <data-dir>/ca-status/issuances.json, written
// atomically a moment after a burst of issuances, bounded, and read back on start.
import { readFile } from 'node:fs/promises';
import { PUBLIC_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { rotationPaths } from './rotation-files.js';

export interface IdentityRecord {
  /** When the last certificate was issued, and until when it is valid (ISO times). */
  at: string;
  notAfter: string;
  /** SHA-256 fingerprints of the roots in the trust bundle that issuance returned. */
  trusts: string[];
  /** The fingerprint of the root the certificate chains to. */
  signedUnder: string;
}

export interface IssuanceRecords {
  identities: Record<string, IdentityRecord>;
  /** Root fingerprint → the latest notAfter of any certificate issued under it. */
  latestUnderRoot: Record<string, string>;
}

/** Identities remembered; beyond this the longest-quiet ones are forgotten first. */
export const MAX_IDENTITIES = 20_000;
/** A certificate this long expired cannot matter to a rotation any more. */
const FORGET_AFTER_MS = 86_400_000;

export async function readIssuanceRecords(dataDir: string): Promise<IssuanceRecords> {
  try {
    const parsed = JSON.parse(await readFile(rotationPaths(dataDir).issuances, 'utf8')) as IssuanceRecords;
    return { identities: parsed.identities ?? {}, latestUnderRoot: parsed.latestUnderRoot ?? {} };
  } catch {
    // Missing or unreadable: the CA has issued nothing it remembers. A rotation then waits on nobody,
    // which the commands say; the records refill with the next renewals.
    return { identities: {}, latestUnderRoot: {} };
  }
}

export interface IssuanceRecorder {
  record(spiffeId: string, record: IdentityRecord): void;
  /** What is remembered now (not a copy: read, do not change). */
  current(): IssuanceRecords;
  /** Writes what is not written yet; resolves once it is on disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function createIssuanceRecorder(
  dataDir: string,
  opts: { flushDelayMs?: number; onWriteFailed?: (err: Error) => void } = {},
): Promise<IssuanceRecorder> {
  const records = await readIssuanceRecords(dataDir);
  const path = rotationPaths(dataDir).issuances;
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const prune = (now: number) => {
    for (const [id, r] of Object.entries(records.identities))
      if (Date.parse(r.notAfter) < now - FORGET_AFTER_MS) delete records.identities[id];
    for (const [root, until] of Object.entries(records.latestUnderRoot))
      if (Date.parse(until) < now - FORGET_AFTER_MS) delete records.latestUnderRoot[root];
    const entries = Object.entries(records.identities);
    if (entries.length <= MAX_IDENTITIES) return;
    entries.sort(([, x], [, y]) => Date.parse(x.at) - Date.parse(y.at));
    for (const [id] of entries.slice(0, entries.length - MAX_IDENTITIES)) delete records.identities[id];
  };
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      if (!dirty) return;
      dirty = false;
      // Under --workers every worker records its own issuances into the one file: take in what the
      // others wrote, newest per identity, so that no worker's write hides another's confirmations.
      const disk = await readIssuanceRecords(dataDir);
      for (const [id, r] of Object.entries(disk.identities)) {
        const mine = records.identities[id];
        if (!mine || Date.parse(mine.at) < Date.parse(r.at)) records.identities[id] = r;
      }
      for (const [root, until] of Object.entries(disk.latestUnderRoot)) {
        const mine = records.latestUnderRoot[root];
        if (!mine || Date.parse(mine) < Date.parse(until)) records.latestUnderRoot[root] = until;
      }
      prune(Date.now());
      try {
        await writeFileAtomic(path, `${JSON.stringify(records)}\n`, PUBLIC_FILE_MODE);
      } catch (err) {
        dirty = true;
        opts.onWriteFailed?.(err as Error);
      }
    });
    return writing;
  };
  return {
    record(spiffeId, record) {
      // The bound is applied at each write (prune), a moment later, not on the hot path.
      records.identities[spiffeId] = record;
      const latest = records.latestUnderRoot[record.signedUnder];
      if (!latest || Date.parse(latest) < Date.parse(record.notAfter))
        records.latestUnderRoot[record.signedUnder] = record.notAfter;
      dirty = true;
      timer ??= setTimeout(() => void flush(), opts.flushDelayMs ?? 250);
      timer.unref();
    },
    current: () => records,
    flush,
    async close() {
      await flush();
    },
  };
}
