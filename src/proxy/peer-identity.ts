// Who is on the other end of a mutual-TLS connection: the SPIFFE ID in a certificate's URI SAN,
// read from Node's `subjectaltname` string (peer certificates) or an X509Certificate (own files).
import type { X509Certificate } from 'node:crypto';
import { isMeshcaError } from '../errors.js';
import { parseSpiffeId } from '../pki/spiffe-id.js';

// Node writes SANs as `TYPE:value` joined by ", "; since the CVE-2021-44532 fix a value holding
// a comma, quote or other special character is written as a JSON string literal instead.
const SAN_ENTRY = /([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;

/** The entries of a `subjectaltname` string as `[type, value]`, e.g. `['URI', 'spiffe://…']`. */
export function parseSubjectAltName(subjectAltName: string | undefined): Array<[string, string]> {
  if (!subjectAltName) return [];
  const entries: Array<[string, string]> = [];
  for (const match of subjectAltName.matchAll(SAN_ENTRY)) {
    const [, type, raw] = match as unknown as [string, string, string];
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        // Not a JSON literal after all: keep the raw text, a malformed SAN simply won't match.
      }
    }
    entries.push([type, value]);
  }
  return entries;
}

/**
 * The parts of a SPIFFE ID with a workload path (pki's rules, plus a non-empty path: a bare trust
 * domain names no workload); undefined when `value` is not one: a peer's bad SAN is not an error.
 */
function workloadSpiffeId(value: string): { trustDomain: string; path: string } | undefined {
  try {
    const id = parseSpiffeId(value);
    return id.path === '' ? undefined : id;
  } catch (err) {
    if (isMeshcaError(err)) return undefined;
    throw err;
  }
}

/** True for a well-formed SPIFFE ID with a workload path (`spiffe://td/ns/foo/sa/bar`). */
export function isSpiffeId(value: string): boolean {
  return workloadSpiffeId(value) !== undefined;
}

/** `cluster.local` for `spiffe://cluster.local/ns/foo/sa/bar`; undefined when not a SPIFFE ID. */
export function trustDomainOf(spiffeId: string): string | undefined {
  return workloadSpiffeId(spiffeId)?.trustDomain;
}

/** The first well-formed `spiffe://` URI SAN in a `subjectaltname` string, as Envoy picks it. */
export function spiffeIdFromSubjectAltName(subjectAltName: string | undefined): string | undefined {
  for (const [type, value] of parseSubjectAltName(subjectAltName)) {
    if (type === 'URI' && isSpiffeId(value)) return value;
  }
  return undefined;
}

/**
 * The SPIFFE ID of a certificate: a peer's (`tls.TLSSocket.getPeerCertificate()`, whose field is
 * `subjectaltname`) or a parsed one (`X509Certificate`, whose field is `subjectAltName`).
 */
export function peerSpiffeId(
  cert: { subjectaltname?: string } | X509Certificate | undefined,
): string | undefined {
  if (!cert) return undefined;
  const san = 'subjectaltname' in cert ? cert.subjectaltname : (cert as X509Certificate).subjectAltName;
  return spiffeIdFromSubjectAltName(san);
}
