// Client-certificate authentication: a workload presenting a valid certificate from this CA may
// renew its own identity, as Istio allows. The identity is the certificate's SPIFFE ID.
import { unauthenticated } from '../errors.js';
import { parseCertificate } from '../pki/parse-certificate.js';
import { parseWorkloadId } from '../pki/spiffe-id.js';
import type { CertificateInfo } from '../pki/types.js';
import { verifyChain } from '../pki/verify-chain.js';
import type { Caller } from './caller.js';

export interface CertificateTrust {
  /** The CA's chain (signing certificate first) and roots, from the bundle in service. */
  chain: readonly CertificateInfo[];
  roots: readonly CertificateInfo[];
  trustDomain: string;
}

export function callerFromCertificate(der: Buffer, trust: CertificateTrust, now = new Date()): Caller {
  let leaf: CertificateInfo;
  try {
    leaf = parseCertificate(der, 'client certificate');
  } catch (err) {
    throw unauthenticated(
      'IDENTITY_CERT_MALFORMED',
      `the client certificate cannot be parsed: ${(err as Error).message}`,
      err,
    );
  }
  const verdict = verifyChain({ leaf, intermediates: [...trust.chain], roots: [...trust.roots], at: now });
  if (!verdict.ok) {
    throw unauthenticated(
      'IDENTITY_CERT_UNTRUSTED',
      `the client certificate does not verify: ${verdict.reasons.join('; ')}`,
    );
  }
  if (leaf.isCa === true || leaf.uris.length !== 1) {
    throw unauthenticated(
      'IDENTITY_CERT_NOT_WORKLOAD',
      'the client certificate is not a workload certificate with exactly one SPIFFE ID',
    );
  }
  let id: ReturnType<typeof parseWorkloadId>;
  try {
    id = parseWorkloadId(leaf.uris[0]!);
  } catch (err) {
    throw unauthenticated(
      'IDENTITY_CERT_NOT_WORKLOAD',
      `the client certificate's URI SAN is not a workload identity: ${(err as Error).message}`,
      err,
    );
  }
  if (id.trustDomain !== trust.trustDomain) {
    throw unauthenticated(
      'IDENTITY_CERT_TRUST_DOMAIN',
      `the client certificate is for trust domain ${id.trustDomain}, this CA serves ${trust.trustDomain}`,
    );
  }
  return {
    namespace: id.namespace,
    serviceAccount: id.serviceAccount,
    via: 'certificate',
    issuer: 'client-certificate',
    subject: leaf.uris[0]!,
  };
}
