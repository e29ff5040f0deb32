// Issues a workload's X.509-SVID (SPIFFE's profile, as Istio's CA issues it) from a verified CSR: the
// identity comes from the caller's checked SPIFFE ID, never from the CSR; only the CSR's key is used.
import { ia5Bytes } from './der-writer.js';
import { generalName, leafExtensions, subjectAltName } from './leaf-extensions.js';
import { type IssuedCertificate, signLeafCertificate } from './sign-leaf-certificate.js';
import { parseSpiffeId } from './spiffe-id.js';
import type { Issuer, ParsedCsr } from './types.js';

export type { IssuedCertificate } from './sign-leaf-certificate.js';

const EMPTY_NAME = Buffer.from([0x30, 0x00]);

/**
 * Signs a leaf for `spiffeId` over the CSR's public key: empty subject, the SPIFFE ID as the one
 * (critical) URI SAN, CA:FALSE, TLS client+server use, valid from now − 2 min for `ttlSeconds`
 * but never past the issuer's NotAfter.
 */
export async function issueWorkloadCertificate(opts: {
  issuer: Issuer;
  csr: ParsedCsr;
  spiffeId: string;
  ttlSeconds: number;
  now?: Date;
}): Promise<IssuedCertificate> {
  const { issuer, csr, spiffeId } = opts;
  parseSpiffeId(spiffeId);
  return signLeafCertificate({
    issuer,
    subject: EMPTY_NAME,
    spki: csr.spkiDer,
    extensions: leafExtensions(
      issuer,
      csr.keyAlgorithm === 'rsa',
      // An empty subject makes the SAN the certificate's only name, so RFC 5280 4.2.1.6 wants it critical.
      subjectAltName([generalName.uri(ia5Bytes(spiffeId))], true),
    ),
    now: opts.now ?? new Date(),
    ttlSeconds: opts.ttlSeconds,
  });
}
