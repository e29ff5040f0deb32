// Default mode: meshca is the CA. The SAN is the caller's own identity, never the CSR's, and the
// response is leaf + chain + the root bundle, the root never twice (Istio issue #39001).
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import { formatWorkloadId } from '../pki/spiffe-id.js';
import type { Issuance } from './issuance.js';
import { createLocalCaSigner } from './signers/local-ca-signer.js';
import { checkCsrIdentity, checkCsrKeyAndKind } from './validate-csr.js';

export const LOCAL_SIGNER_NAME = 'meshca/local';

export function createCaModeIssuance(
  ca: Pick<CertificateAuthority, 'bundle'>,
  trustDomain: string,
): Issuance {
  const signer = createLocalCaSigner(LOCAL_SIGNER_NAME, ca);
  return {
    async issue(request) {
      checkCsrKeyAndKind(request.csr);
      const spiffeId = formatWorkloadId({
        trustDomain,
        namespace: request.caller.namespace,
        serviceAccount: request.caller.serviceAccount,
      });
      checkCsrIdentity(request.csr, spiffeId);
      const signed = await signer.sign({ ...request, spiffeId });
      return {
        certChain: [...signed.chain, signed.rootsPem],
        signer: LOCAL_SIGNER_NAME,
        serialHex: signed.serialHex,
        spiffeId,
      };
    },
    rootsPem: () => ca.bundle.rootsPem,
    knownSigner: (requested) => (requested === LOCAL_SIGNER_NAME ? LOCAL_SIGNER_NAME : undefined),
  };
}
