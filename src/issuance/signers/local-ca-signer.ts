// The embedded signer: issues the leaf with the CA's current signing bundle, in process.
// This is the hot path of the default (non-RA) mode.
import type { CertificateAuthority } from '../../ca/certificate-authority.js';
import { configError } from '../../errors.js';
import { issueWorkloadCertificate } from '../../pki/issue-workload-certificate.js';
import type { SignedChain, Signer, SignRequest } from './signer.js';

export interface LocalCaSigner extends Signer {
  /** Like sign(), synchronous: no I/O is involved, and the hot path saves a promise per request. */
  signNow(request: SignRequest, now?: Date): SignedChain & { serialHex: string; notAfter: Date };
}

export function createLocalCaSigner(name: string, ca: Pick<CertificateAuthority, 'bundle'>): LocalCaSigner {
  const signNow: LocalCaSigner['signNow'] = (request, now = new Date()) => {
    const bundle = ca.bundle; // read once: a reload swapping it mid-request cannot mix two bundles
    const signingCert = bundle.issuer.certificate;
    if (signingCert.notAfter.getTime() <= now.getTime()) {
      // An expired CA is the operator's CA files to replace, as when it is found while loading (exit 3).
      throw configError(
        'CA_EXPIRED',
        `the CA's signing certificate "${signingCert.subject}" expired at ${signingCert.notAfter.toISOString()}; the CA refuses to sign until a new intermediate is plugged in`,
      );
    }
    const issued = issueWorkloadCertificate({
      issuer: bundle.issuer,
      csr: request.csr,
      spiffeId: request.spiffeId,
      ttlSeconds: request.ttlSeconds,
      now,
    });
    return {
      chain: [issued.pem, ...bundle.chainPems],
      serialHex: issued.serialHex,
      notAfter: issued.notAfter,
    };
  };
  return {
    name,
    signNow,
    sign: async (request) => signNow(request),
    roots: async () => ca.bundle.roots.map((r) => r.pem),
    close: async () => {},
  };
}
