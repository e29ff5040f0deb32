// The issuance log's entries and their hash chain, defined so that anyone can check a log without
// meshca: the hash is SHA-256 over a canonical JSON text of the entry (README, "The issuance log").
import { createHash } from 'node:crypto';

/** The `prev` of the first entry: no entry comes before it. */
export const GENESIS_HASH = '0'.repeat(64);

/** Who asked for a certificate: what proved it (token or client certificate) and whom it names. */
export interface Requester {
  via: 'token' | 'certificate' | 'self';
  /** The token's `iss`, `client-certificate`, or `meshca` for the CA's own serving certificates. */
  issuer: string;
  /** The token's `sub`, or the client certificate's SPIFFE ID. */
  subject: string;
}

/** One issued certificate. */
export interface IssuedFields {
  kind: 'workload' | 'serving';
  time: string;
  /** Lower-case hex without separators or leading zeros (normalizeSerial). */
  serial: string;
  /** The SPIFFE ID of a workload certificate; null for a serving certificate. */
  spiffeId: string | null;
  /** The DNS names (and IPs) of a serving certificate; empty for a workload certificate. */
  dnsNames: string[];
  requester: Requester;
  signer: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the certificate's DER, lower-case hex. */
  certSha256: string;
  /** SHA-256 of the certificate's SubjectPublicKeyInfo DER, lower-case hex. */
  spkiSha256: string;
  requestId: string;
}

/** A break in the log: the tail of a segment could not be read after a crash and was set aside. */
export interface BreakFields {
  kind: 'break';
  time: string;
  /** The file the unreadable tail was kept in, relative to the log directory. */
  damagedFile: string;
  /** Bytes after the last good entry of that file. */
  damagedBytes: number;
  reason: string;
}

export type EntryFields = IssuedFields | BreakFields;

/** An entry as written: its fields, its place in the chain, and its own hash. */
export type LogEntry = EntryFields & {
  /** 0 for the first entry ever written, then one more each. */
  seq: number;
  /** The previous entry's `hash`; GENESIS_HASH for seq 0. */
  prev: string;
  hash: string;
};

/**
 * JSON with object keys sorted by UTF-16 code unit order at every level, no whitespace; strings and
 * numbers as JSON.stringify writes them. Entries hold only strings, integers, null, arrays, objects.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The entry's hash: SHA-256 (hex) of the canonical JSON of every field but `hash` itself. */
export function entryHash(entry: Omit<LogEntry, 'hash'> | LogEntry): string {
  const { hash: _hash, ...rest } = entry as LogEntry;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

/** Puts `fields` after `prev` in the chain. */
export function chainEntry(fields: EntryFields, seq: number, prev: string): LogEntry {
  const unhashed = { ...fields, seq, prev };
  return { ...unhashed, hash: entryHash(unhashed) } as LogEntry;
}

/** The line written for an entry: its canonical JSON (hash included) and a newline. */
export function entryLine(entry: LogEntry): string {
  return `${canonicalJson(entry)}\n`;
}
