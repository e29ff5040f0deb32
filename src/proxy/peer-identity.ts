// Who is on the other end of a mutual-TLS connection: the SPIFFE ID in a certificate's URI SAN,
// read from Node's `subjectaltname` string (peer certificates) or an X509Certificate (own files).
import type { X509Certificate } from 'node:crypto';

// Node writes SANs as `TYPE:value` joined by ", "; since the CVE-2021-44532 fix a value holding
// a comma, quote or other special character is written as a JSON string literal instead.
const SAN_ENTRY = /([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;

// SPIFFE: lower-case trust domain, then a path of non-empty segments without "." or "..".
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+)$/;

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

/** True for a well-formed SPIFFE ID with a workload path (`spiffe://td/ns/foo/sa/bar`). */
export function isSpiffeId(value: string): boolean {
  const match = SPIFFE_ID.exec(value);
  if (!match) return false;
  return !match[2]!.split('/').some((segment) => segment === '.' || segment === '..');
}

/** `cluster.local` for `spiffe://cluster.local/ns/foo/sa/bar`; undefined when not a SPIFFE ID. */
export function trustDomainOf(spiffeId: string): string | undefined {
  return isSpiffeId(spiffeId) ? SPIFFE_ID.exec(spiffeId)![1] : undefined;
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
