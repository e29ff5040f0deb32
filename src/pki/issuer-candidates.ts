// Which certificates could have issued a given one, best first: shared by chain ordering and
// chain verification so both pick parents the same way (as OpenSSL does: by name, then key id).
import type { CertificateInfo } from './types.js';
import { sameName } from './x509-name.js';

/** OpenSSL refuses a parent whose subjectKeyIdentifier differs from the child's authorityKeyIdentifier. */
export function keyIdsConflict(child: CertificateInfo, parent: CertificateInfo): boolean {
  return (
    child.authorityKeyId !== undefined &&
    parent.subjectKeyId !== undefined &&
    !child.authorityKeyId.equals(parent.subjectKeyId)
  );
}

export function isSelfIssued(cert: CertificateInfo): boolean {
  return sameName(cert.subjectDer, cert.issuerDer);
}

// Signature checks are pure in (child, parent key); caching them makes re-verifying the same bundle
// (every client certificate is checked against the same intermediates) cost one check per pair.
const verified = new WeakMap<CertificateInfo, Map<string, boolean>>();

/** True when the child's signature verifies with the parent's key (a throw counts as no). */
export function signedBy(child: CertificateInfo, parent: CertificateInfo): boolean {
  let byParent = verified.get(child);
  if (!byParent) {
    byParent = new Map();
    verified.set(child, byParent);
  }
  const known = byParent.get(parent.fingerprint256);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    ok = child.x509.verify(parent.publicKey);
  } catch {
    ok = false;
  }
  byParent.set(parent.fingerprint256, ok);
  return ok;
}

/**
 * Certificates in `pool` named as the child's issuer whose key ids do not conflict, ordered: key id
 * match first, then those whose signature verifies, then the rest (kept so errors can name them).
 */
export function issuerCandidates(
  child: CertificateInfo,
  pool: readonly CertificateInfo[],
): CertificateInfo[] {
  const named = pool.filter(
    (p) =>
      p.fingerprint256 !== child.fingerprint256 &&
      sameName(p.subjectDer, child.issuerDer) &&
      !keyIdsConflict(child, p),
  );
  const score = (p: CertificateInfo) =>
    (child.authorityKeyId && p.subjectKeyId ? 2 : 0) + (signedBy(child, p) ? 1 : 0);
  return named
    .map((p) => ({ p, s: score(p) }))
    .sort((a, b) => b.s - a.s)
    .map(({ p }) => p);
}

/** The same certificate given twice (a root in both bundles) is kept once. */
export function uniqueCertificates(certs: readonly CertificateInfo[]): CertificateInfo[] {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.fingerprint256) && seen.add(c.fingerprint256));
}
