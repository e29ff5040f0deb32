// Making a self-signed root CA certificate, the trust anchor of a mesh (Istio's root-cert.pem).
import type { KeyObject } from 'node:crypto';
import { invalidInput } from '../errors.js';
import { buildCaCertificate } from './build-ca-certificate.js';
import { asCaKey } from './keys.js';
import type { CaKey, CertificateInfo, NameSpec } from './types.js';
import { encodeNameSpec } from './x509-name.js';

export interface CreateRootCertificateOptions {
  /** The root's private key (or a CaKey, e.g. in a token); it signs its own certificate. */
  key: KeyObject | CaKey;
  subject: NameSpec;
  days: number;
  /** The clock, injectable so expiry can be tested. */
  now?: Date;
}

/**
 * A v3 self-signed root: basicConstraints critical CA:TRUE without a path length (the operator's
 * intermediates decide their own), keyUsage critical Digital Signature, Certificate Sign, CRL Sign,
 * a subjectKeyIdentifier, SHA-256 (SHA-384 for a P-384 key).
 */
export async function createRootCertificate(opts: CreateRootCertificateOptions): Promise<CertificateInfo> {
  if ('type' in opts.key && opts.key.type !== 'private') {
    throw invalidInput(
      'PKI_KEY_UNSUPPORTED',
      'a root certificate signs itself, so it needs the private key, not a public key',
    );
  }
  const subjectDer = encodeNameSpec(opts.subject, 'root subject');
  const signer = asCaKey(opts.key);
  const publicKey = signer.publicKey;
  return buildCaCertificate({
    what: 'root certificate',
    subjectDer,
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
    issuerDer: subjectDer,
    signer,
    verifyWith: publicKey,
    authorityKeyId: undefined,
    pathLen: undefined,
    dnsNames: [],
    days: opts.days,
    now: opts.now ?? new Date(),
  });
}

/**
 * The same root again, for a longer life: same subject, same key (so every certificate it signed
 * verifies against either version), a new serial and validity. Istio's self-signed root rotator
 * does the same, which is why workloads holding only the old root notice nothing.
 */
export async function renewRootCertificate(opts: {
  key: KeyObject | CaKey;
  current: CertificateInfo;
  days: number;
  now?: Date;
}): Promise<CertificateInfo> {
  const signer = asCaKey(opts.key);
  const publicKey = signer.publicKey;
  return buildCaCertificate({
    what: 'renewed root certificate',
    subjectDer: opts.current.subjectDer,
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
    issuerDer: opts.current.subjectDer,
    signer,
    verifyWith: opts.current.publicKey,
    authorityKeyId: undefined,
    pathLen: undefined,
    dnsNames: [],
    days: opts.days,
    now: opts.now ?? new Date(),
  });
}
