// X.509 path validation for meshca's own checks (plugged-in bundles, client certificates,
// `meshca certs verify`): builds leaf → … → trusted root and reports every problem it finds,
// with the verdict OpenSSL's `verify -auth_level 1` gives.
import { certificateLabel as label } from './certificate-label.js';
import {
  isSelfIssued,
  issuerCandidates,
  keyIdsConflict,
  signedBy,
  uniqueCertificates,
} from './issuer-candidates.js';
import type { CertificateInfo, ChainVerdict } from './types.js';
import { sameName } from './x509-name.js';

export interface VerifyChainOptions {
  leaf: CertificateInfo;
  /** Untrusted certificates that may help build the path, in any order; extra ones are ignored. */
  intermediates?: CertificateInfo[];
  /** Trust anchors. */
  roots: CertificateInfo[];
  /** The time to check validity at (default now). */
  at?: Date;
}

/** Digests too weak for a signature below the trust anchor (OpenSSL refuses them from auth level 1). */
const WEAK_HASHES: Readonly<Record<string, string>> = { sha1: 'SHA-1', md5: 'MD5' };
/** OpenSSL's auth level 1 wants 80 bits of security: RSA keys of at least 1024 bits. */
const MIN_RSA_BITS = 1024;
const MAX_DEPTH = 16;
// Bounds the search when a pool holds many certificates sharing a name.
const MAX_PATHS = 256;

interface Path {
  certs: CertificateInfo[];
  /** Ends in a self-issued trusted root. */
  complete: boolean;
}

function buildPaths(leaf: CertificateInfo, pool: CertificateInfo[], roots: CertificateInfo[]): Path[] {
  const trusted = new Set(roots.map((r) => r.fingerprint256));
  const paths: Path[] = [];
  const walk = (certs: CertificateInfo[]): void => {
    if (paths.length >= MAX_PATHS) return;
    const top = certs[certs.length - 1]!;
    // OpenSSL ends a chain at a self-signed trust anchor and does not check the anchor's own signature.
    if (trusted.has(top.fingerprint256) && isSelfIssued(top)) {
      paths.push({ certs, complete: true });
      return;
    }
    const onPath = new Set(certs.map((c) => c.fingerprint256));
    // Trusted issuers first, as OpenSSL's default (trusted-first) chain building does.
    const next = [...issuerCandidates(top, roots), ...issuerCandidates(top, pool)].filter(
      (c) => !onPath.has(c.fingerprint256),
    );
    if (next.length === 0 || certs.length > MAX_DEPTH) {
      paths.push({ certs, complete: false });
      return;
    }
    for (const parent of next) walk([...certs, parent]);
  };
  walk([leaf]);
  return paths;
}

function iso(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** Why `parent` may not issue certificates; empty when it may. */
function notACa(parent: CertificateInfo, isAnchor: boolean): string[] {
  const why: string[] = [];
  if (parent.isCa === false) why.push('is not a CA (basicConstraints CA:FALSE)');
  // OpenSSL tolerates a trust anchor without basicConstraints if its keyUsage allows certificate signing.
  else if (parent.isCa === undefined && !(isAnchor && parent.keyUsage?.includes('Certificate Sign'))) {
    why.push('is not a CA (it has no basicConstraints extension)');
  }
  if (parent.keyUsage && !parent.keyUsage.includes('Certificate Sign')) {
    why.push('may not sign certificates (its keyUsage lacks Certificate Sign)');
  }
  return why;
}

function problemsOf(path: Path, pool: CertificateInfo[], roots: CertificateInfo[], at: Date): string[] {
  const { certs, complete } = path;
  const reasons: string[] = [];
  const anchorIndex = complete ? certs.length - 1 : -1;
  certs.forEach((cert, i) => {
    if (cert.notBefore.getTime() > at.getTime()) {
      reasons.push(`certificate "${label(cert)}" is not valid before ${iso(cert.notBefore)}`);
    }
    if (cert.notAfter.getTime() < at.getTime()) {
      reasons.push(`certificate "${label(cert)}" expired at ${iso(cert.notAfter)}`);
    }
    const rsaBits = cert.publicKey.asymmetricKeyDetails?.modulusLength;
    if (cert.publicKey.asymmetricKeyType === 'rsa' && rsaBits !== undefined && rsaBits < MIN_RSA_BITS) {
      reasons.push(
        `"${label(cert)}" has a ${rsaBits}-bit RSA key, which is refused (at least ${MIN_RSA_BITS} bits)`,
      );
    }
    if (i !== anchorIndex && WEAK_HASHES[cert.signatureHash]) {
      reasons.push(`"${label(cert)}" is signed with ${WEAK_HASHES[cert.signatureHash]}, which is refused`);
    }
    const parent = certs[i + 1];
    if (parent) {
      if (!signedBy(cert, parent)) {
        reasons.push(`signature of "${label(cert)}" does not verify with the key of "${label(parent)}"`);
      }
      for (const why of notACa(parent, i + 1 === anchorIndex)) {
        reasons.push(`"${label(parent)}" ${why} but issued "${label(cert)}"`);
      }
    }
    // pathLenConstraint counts the CA certificates between this one and the leaf; self-issued ones are free.
    if (i >= 2 && cert.pathLen !== undefined) {
      const below = certs.slice(1, i).filter((c) => !isSelfIssued(c)).length;
      if (below > cert.pathLen) {
        reasons.push(`path length constraint of "${label(cert)}" (pathlen:${cert.pathLen}) exceeded`);
      }
    }
  });
  if (!complete) reasons.push(incompleteReason(certs[certs.length - 1]!, pool, roots));
  return reasons;
}

function incompleteReason(top: CertificateInfo, pool: CertificateInfo[], roots: CertificateInfo[]): string {
  if (isSelfIssued(top)) {
    return `"${label(top)}" is self-signed but is not one of the trusted roots; add it to the roots if it should be trusted`;
  }
  const conflicting = [...pool, ...roots].filter(
    (c) => sameName(c.subjectDer, top.issuerDer) && keyIdsConflict(top, c),
  );
  const hint =
    conflicting.length > 0
      ? ` (a certificate named "${top.issuer}" is present, but its key identifier is not the one "${label(top)}" was signed by)`
      : '';
  return `no issuer found for "${label(top)}" (issuer "${top.issuer}"): the chain is missing an intermediate${hint}`;
}

/** Verifies `leaf` up to one of `roots`; on failure every reason, each naming the certificate by subject. */
export function verifyChain(opts: VerifyChainOptions): ChainVerdict {
  const at = opts.at ?? new Date();
  const roots = uniqueCertificates(opts.roots);
  if (roots.length === 0) {
    return { ok: false, reasons: ['no trusted root certificate was given, so nothing can be trusted'] };
  }
  const pool = uniqueCertificates(opts.intermediates ?? []).filter(
    (c) => c.fingerprint256 !== opts.leaf.fingerprint256,
  );
  let best: { path: Path; reasons: string[] } | undefined;
  for (const path of buildPaths(opts.leaf, pool, roots)) {
    const reasons = problemsOf(path, pool, roots, at);
    if (path.complete && reasons.length === 0) return { ok: true, path: path.certs };
    // Report the path that got furthest: a complete one with problems beats a broken one.
    const better =
      !best ||
      (path.complete && !best.path.complete) ||
      (path.complete === best.path.complete && reasons.length < best.reasons.length);
    if (better) best = { path, reasons };
  }
  return { ok: false, reasons: uniqueStrings(best!.reasons) };
}

function uniqueStrings(list: string[]): string[] {
  return [...new Set(list)];
}
