// Notes every certificate the CA's own signer issues in the records a root change needs (which
// identity, until when, which roots it was told to trust, which root it chains to). Wraps the
// issuance rather than the request handler, so it sees exactly the chain the workload receives.

import type { IssuanceRecorder } from '../ca/rotation/issuance-records.js';
import { LOCAL_SIGNER_NAME } from '../issuance/ca-mode-issuance.js';
import type { Issuance, IssueResult } from '../issuance/issuance.js';
import { parseCertificate, parseCertificates } from '../pki/parse-certificate.js';
import type { CertificateInfo } from '../pki/types.js';

export function recordIssuances(
  recorder: IssuanceRecorder,
  onError: (err: Error) => void,
): (issuance: Issuance) => Issuance {
  // Every response of one bundle carries the same trust bundle: parse it once per bundle, not per call.
  let lastRoots: { pem: string; certs: CertificateInfo[] } | undefined;
  const note = (result: IssueResult) => {
    if (result.signer !== LOCAL_SIGNER_NAME) return;
    const chain = result.certChain;
    const rootsPem = chain[chain.length - 1]!;
    if (lastRoots?.pem !== rootsPem)
      lastRoots = { pem: rootsPem, certs: parseCertificates(rootsPem, 'trust bundle') };
    const leaf = parseCertificate(chain[0]!, 'issued certificate');
    const top = chain.length > 2 ? parseCertificate(chain[chain.length - 2]!, 'issued chain') : leaf;
    const root = lastRoots.certs.find((r) => top.x509.verify(r.publicKey));
    recorder.record(result.spiffeId, {
      at: new Date().toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      trusts: lastRoots.certs.map((r) => r.fingerprint256),
      signedUnder: root?.fingerprint256 ?? 'unknown',
    });
  };
  return (issuance) => ({
    async issue(request) {
      const result = await issuance.issue(request);
      try {
        note(result);
      } catch (err) {
        onError(err as Error); // a record lost must never cost the workload its certificate
      }
      return result;
    },
    rootsPem: () => issuance.rootsPem(),
    knownSigner: (requested) => issuance.knownSigner(requested),
  });
}
