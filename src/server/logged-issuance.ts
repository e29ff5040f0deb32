// Puts every certificate an issuance hands out into the issuance log first: the chain goes back to
// the caller only once its entry is on disk, so nothing issued is unlogged. Whatever the mode (CA
// or RA) and whichever signer signed, the entry is read from the leaf that is returned.
import { certificateFields } from '../ca/issuance-log/certificate-fields.js';
import type { IssuanceLog } from '../ca/issuance-log/issuance-log.js';
import type { Issuance } from '../issuance/issuance.js';

export function withIssuanceLog(issuance: Issuance, log: IssuanceLog): Issuance {
  return {
    async issue(request) {
      const result = await issuance.issue(request);
      const { caller } = request;
      await log.append({
        kind: 'workload',
        ...certificateFields(result.certChain[0]!),
        spiffeId: result.spiffeId,
        dnsNames: [],
        requester: { via: caller.via, issuer: caller.issuer, subject: caller.subject },
        signer: result.signer,
        requestId: request.requestId,
      });
      return result;
    },
    rootsPem: () => issuance.rootsPem(),
    knownSigner: (requested) => issuance.knownSigner(requested),
  };
}
