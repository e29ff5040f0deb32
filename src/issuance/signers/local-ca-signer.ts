// The embedded signer: issues the leaf with the CA's current signing bundle, in process.
// This is the hot path of the default (non-RA) mode.
import type { CertificateAuthority } from '../../ca/certificate-authority.js';
import { configError } from '../../errors.js';
import { issueWorkloadCertificate } from '../../pki/issue-workload-certificate.js';
import { parseCsr } from '../../pki/parse-csr.js';
import type { SignedChain, Signer, SignRequest } from './signer.js';

/** What the local signer knows besides the chain, from the very bundle that signed it. */
export interface LocalSignedChain extends SignedChain {
  serialHex: string;
  notAfter: Date;
  /** The trust bundle of the bundle that signed: the last element of a CA-mode response. */
  rootsPem: string;
}

export interface LocalCaSigner extends Signer {
  sign(request: SignRequest, signal?: AbortSignal): Promise<LocalSignedChain>;
}

const systemClock = () => new Date();

/** `now`: the clock, injectable so that expiry can be tested. */
export function createLocalCaSigner(
  name: string,
  ca: Pick<CertificateAuthority, 'bundle'>,
  now: () => Date = systemClock,
): LocalCaSigner {
  return {
    name,
    async sign(request, signal) {
      if (signal?.aborted) throw signal.reason;
      const at = now();
      const bundle = ca.bundle; // read once: a reload swapping it mid-request cannot mix two bundles
      const signingCert = bundle.issuer.certificate;
      if (signingCert.notAfter.getTime() <= at.getTime()) {
        // An expired CA is the operator's CA files to replace, as when it is found while loading (exit 3).
        throw configError(
          'CA_EXPIRED',
          `the CA's signing certificate "${signingCert.subject}" expired at ${signingCert.notAfter.toISOString()}; the CA refuses to sign until a new intermediate is plugged in`,
        );
      }
      const issued = await issueWorkloadCertificate({
        issuer: bundle.issuer,
        csr: request.csr ?? parseCsr(request.csrPem),
        spiffeId: request.spiffeId,
        ttlSeconds: request.ttlSeconds,
        now: at,
      });
      return {
        chain: [issued.pem, ...bundle.chainPems],
        serialHex: issued.serialHex,
        notAfter: issued.notAfter,
        rootsPem: bundle.rootsPem,
      };
    },
    roots: async () => ca.bundle.roots.map((r) => r.pem),
    close: async () => {},
  };
}
