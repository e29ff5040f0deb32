// What the CA has issued, as far as a root change needs to know: per workload identity its last
// certificate (when, until when, which roots it was told to trust, which root it chains to), and per
// root the latest expiry issued under it. Each writer (a process, a --workers worker, a Kubernetes
// replica) keeps its own copy, written a moment after a burst of issuances and bounded; readers merge
// every writer's copy, newest per identity. One writer per copy: no write can hide another's.

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

export const emptyIssuanceRecords = (): IssuanceRecords => ({ identities: {}, latestUnderRoot: {} });

/** One writer's copy as stored; anything unreadable counts as nothing remembered. */
export function parseIssuanceRecords(text: string | undefined): IssuanceRecords {
  if (!text) return emptyIssuanceRecords();
  try {
    const parsed = JSON.parse(text) as Partial<IssuanceRecords>;
    return { identities: parsed.identities ?? {}, latestUnderRoot: parsed.latestUnderRoot ?? {} };
  } catch {
    // The records refill with the next renewals; until then a rotation waits on nobody, which the
    // commands say.
    return emptyIssuanceRecords();
  }
}

/** Every writer's copy as one: the newest record per identity, the latest expiry per root. */
export function mergeIssuanceRecords(copies: readonly IssuanceRecords[]): IssuanceRecords {
  const merged = emptyIssuanceRecords();
  for (const copy of copies) {
    for (const [id, r] of Object.entries(copy.identities)) {
      const seen = merged.identities[id];
      if (!seen || Date.parse(seen.at) < Date.parse(r.at)) merged.identities[id] = r;
    }
    for (const [root, until] of Object.entries(copy.latestUnderRoot)) {
      const seen = merged.latestUnderRoot[root];
      if (!seen || Date.parse(seen) < Date.parse(until)) merged.latestUnderRoot[root] = until;
    }
  }
  return merged;
}

/** Forgets what cannot matter any more, and the longest-quiet identities beyond `maxIdentities`. */
export function pruneIssuanceRecords(records: IssuanceRecords, now: number, maxIdentities: number): void {
  for (const [id, r] of Object.entries(records.identities))
    if (Date.parse(r.notAfter) < now - FORGET_AFTER_MS) delete records.identities[id];
  for (const [root, until] of Object.entries(records.latestUnderRoot))
    if (Date.parse(until) < now - FORGET_AFTER_MS) delete records.latestUnderRoot[root];
  const entries = Object.entries(records.identities);
  if (entries.length <= maxIdentities) return;
  entries.sort(([, x], [, y]) => Date.parse(x.at) - Date.parse(y.at));
  for (const [id] of entries.slice(0, entries.length - maxIdentities)) delete records.identities[id];
}

export interface IssuanceRecorder {
  record(spiffeId: string, record: IdentityRecord): void;
  /** What this writer remembers now (not a copy: read, do not change). */
  current(): IssuanceRecords;
  /** Writes what is not written yet; resolves once it is stored. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A recorder that keeps its copy with `write` (a file, a ConfigMap), at most once per `flushDelayMs`. */
export function createIssuanceRecorder(opts: {
  initial: IssuanceRecords;
  write: (text: string) => Promise<void>;
  maxIdentities?: number;
  /** The most a written copy may take (a ConfigMap holds 1 MiB); the longest-quiet identities go first. */
  maxBytes?: number;
  flushDelayMs?: number;
  onWriteFailed?: (err: Error) => void;
}): IssuanceRecorder {
  const records = opts.initial;
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      if (!dirty) return;
      dirty = false;
      const now = Date.now();
      pruneIssuanceRecords(records, now, opts.maxIdentities ?? MAX_IDENTITIES);
      let text = `${JSON.stringify(records)}\n`;
      // SPIFFE IDs and the rest are ASCII: characters are bytes.
      while (opts.maxBytes !== undefined && text.length > opts.maxBytes) {
        const count = Object.keys(records.identities).length;
        if (count === 0) break;
        pruneIssuanceRecords(records, now, Math.floor((count * opts.maxBytes * 0.95) / text.length));
        text = `${JSON.stringify(records)}\n`;
      }
      try {
        await opts.write(text);
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
