// Making an intermediate ("signing") CA certificate for one cluster (Istio's ca-cert.pem), signed
// through the issuer's CaKey so the root key itself is never exported.
import type { KeyObject } from 'node:crypto';
import { buildIntermediateCertificate } from './build-ca-certificate.js';
import { publicKeyOf } from './keys.js';
import type { CertificateInfo, Issuer, NameSpec } from './types.js';
import { encodeNameSpec } from './x509-name.js';

export interface CreateIntermediateCertificateOptions {
  /** The intermediate's public key (a private key is accepted and only its public half used). */
  subjectPublicKey: KeyObject;
  subject: NameSpec;
  issuer: Issuer;
  days: number;
  /** pathLenConstraint; default 0: the intermediate signs workloads but no further CAs. */
  pathLen?: number;
  /** DNS SANs, e.g. istiod.istio-system.svc as Istio's Makefile puts in. */
  dnsNames?: string[];
  now?: Date;
}

/**
 * basicConstraints critical CA:TRUE with pathlen, keyUsage critical Digital Signature, Certificate
 * Sign, CRL Sign, subject and authority key identifiers, DNS SANs if given; issuer name copied from
 * the issuer certificate's subject.
 */
export async function createIntermediateCertificate(
  opts: CreateIntermediateCertificateOptions,
): Promise<CertificateInfo> {
  return buildIntermediateCertificate({
    subjectDer: encodeNameSpec(opts.subject, 'intermediate subject'),
    spkiDer: publicKeyOf(opts.subjectPublicKey).export({ type: 'spki', format: 'der' }),
    issuer: opts.issuer,
    days: opts.days,
    pathLen: opts.pathLen,
    dnsNames: opts.dnsNames ?? [],
    now: opts.now ?? new Date(),
  });
}
