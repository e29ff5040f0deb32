// The unit the CA signs with: a verified key + certificate, the chain above it and the roots it
// ends in. Only buildSigningBundle makes one, and only after every check has passed.
import type { KeyObject } from 'node:crypto';
import { configError } from '../errors.js';
import { keyMatchesCertificate } from '../pki/key-matches-certificate.js';
import { asCaKey } from '../pki/keys.js';
import type { CaKey, CertificateInfo, Issuer } from '../pki/types.js';
import { verifyChain } from '../pki/verify-chain.js';

/** Days before the signing certificate's expiry from which meshca warns (log + metric). */
export const EXPIRY_WARNING_DAYS = 30;

export type BundleSource = 'self-signed' | 'plugged-istio' | 'plugged-tls' | 'signer';

export interface SigningBundle {
  readonly issuer: Issuer;
  /** The certificates between the signing certificate and a root, signing certificate first; no root. */
  readonly chain: readonly CertificateInfo[];
  readonly roots: readonly CertificateInfo[];
  /** The middle of every response: one PEM element per certificate of `chain`. */
  readonly chainPems: readonly string[];
  /** The trust bundle, every root concatenated: the last element of every response, and `root-cert.pem`. */
  readonly rootsPem: string;
  readonly source: BundleSource;
  /** The directory the files came from, for messages. */
  readonly dir: string;
  readonly warnings: readonly string[];
  /** Changes whenever the signing certificate, its chain or the roots change. */
  readonly fingerprint: string;
}

export interface BundleParts {
  signingCert: CertificateInfo;
  /** The CA key, or a CaKey backed by an HSM or remote signer. */
  key: KeyObject | CaKey;
  /** Candidate chain certificates in any order; may include the signing certificate and roots. */
  chainCandidates: CertificateInfo[];
  roots: CertificateInfo[];
  source: BundleSource;
  dir: string;
  /** File names for messages, so an operator knows which file to fix. */
  files: { cert: string; key: string; chain: string; roots: string };
  now?: Date;
}

/** Runs every check an operator's bundle must pass, then freezes it. Throws a `config` error naming the file. */
export function buildSigningBundle(parts: BundleParts): SigningBundle {
  const { signingCert, roots, files, dir } = parts;
  const now = parts.now ?? new Date();
  // A key in a token is named by its URI, not by a file of the directory.
  const where = (file: string) => (file.startsWith('pkcs11:') ? file : `${dir}/${file}`);
  const caKey = asCaKey(parts.key);

  if (roots.length === 0) {
    throw configError(
      'CA_BUNDLE_INVALID',
      `${where(files.roots)} holds no certificate; put the root CA certificate(s) there`,
    );
  }
  if (!keyMatchesCertificate(caKey.publicKey, signingCert)) {
    throw configError(
      'CA_KEY_MISMATCH',
      `${where(files.key)}: key does not match certificate ${where(files.cert)} ("${signingCert.subject}"); put the key that belongs to this certificate there, or the certificate that belongs to this key`,
    );
  }
  if (signingCert.isCa !== true) {
    throw configError(
      'CA_NOT_A_CA',
      `${where(files.cert)}: "${signingCert.subject}" is not a CA certificate (basicConstraints CA:TRUE is missing), so it may not sign; use an intermediate CA certificate such as "meshca certs intermediate" makes`,
    );
  }
  if (signingCert.keyUsage && !signingCert.keyUsage.includes('Certificate Sign')) {
    throw configError(
      'CA_NOT_A_CA',
      `${where(files.cert)}: "${signingCert.subject}" lacks keyUsage keyCertSign, so it may not sign certificates; reissue it with keyUsage keyCertSign`,
    );
  }
  if (signingCert.notAfter.getTime() <= now.getTime()) {
    // Found while loading, an expired certificate is a bad CA file for the operator to replace (exit 3);
    // found while signing (pki/), the CA is unusable for that request.
    throw configError(
      'CA_EXPIRED',
      `${where(files.cert)}: the signing certificate "${signingCert.subject}" expired at ${signingCert.notAfter.toISOString()}; issue a new intermediate (meshca certs intermediate) and plug it in`,
    );
  }
  const verdict = verifyChain({ leaf: signingCert, intermediates: parts.chainCandidates, roots, at: now });
  if (!verdict.ok) {
    throw configError(
      'CA_CHAIN_INVALID',
      `${where(files.cert)} does not verify through ${where(files.chain)} to a root in ${where(files.roots)}: ${verdict.reasons.join('; ')}`,
    );
  }
  // The verified path ends in a root: the response carries roots once, as its last element.
  const rootFingerprints = new Set(roots.map((r) => r.fingerprint256));
  const chain = verdict.path.filter((c) => !rootFingerprints.has(c.fingerprint256));
  const warnings: string[] = [];
  const daysLeft = (signingCert.notAfter.getTime() - now.getTime()) / 86_400_000;
  if (daysLeft < EXPIRY_WARNING_DAYS) {
    warnings.push(
      `the signing certificate "${signingCert.subject}" in ${where(files.cert)} expires in ${daysLeft.toFixed(1)} days (${signingCert.notAfter.toISOString()}); plug in a new intermediate soon`,
    );
  }
  const rootsPem = roots.map((r) => r.pem).join('');
  return Object.freeze({
    issuer: Object.freeze({ certificate: signingCert, key: caKey }),
    chain: Object.freeze(chain),
    roots: Object.freeze([...roots]),
    chainPems: Object.freeze(chain.map((c) => c.pem)),
    rootsPem,
    source: parts.source,
    dir,
    warnings: Object.freeze(warnings),
    fingerprint: [...chain, ...roots].map((c) => c.fingerprint256).join('|'),
  });
}
