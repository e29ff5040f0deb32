// Notes every certificate the CA's own signer issues in the records a root change needs (which
// identity, until when, which roots it was told to trust, which root it chains to). Wraps the
// issuance rather than the request handler, so it sees exactly the chain the workload receives.

import { X509Certificate } from 'node:crypto';
import type { IssuanceRecorder } from '../ca/rotation/issuance-records.js';
import { LOCAL_SIGNER_NAME } from '../issuance/ca-mode-issuance.js';
import type { Issuance, IssueResult } from '../issuance/issuance.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { decodePem } from '../pki/pem.js';
import { type CertificateFacts, readCertificateFacts } from '../pki/read-certificate-facts.js';
import type { CertificateInfo } from '../pki/types.js';

/** Distinct signing keys remembered per trust bundle; more than a handful means something odd: start over. */
const MAX_SIGNERS_REMEMBERED = 16;

export function recordIssuances(
  recorder: IssuanceRecorder,
  onError: (err: Error) => void,
): (issuance: Issuance) => Issuance {
  // Every response of one bundle carries the same trust bundle: parse it once per bundle, not per call.
  // And a full parse of the leaf with a signature check per call cost more than signing it
  // (bench/PROFILE.md): the leaf's expiry is read with the DER reader, and the root that the chain's
  // top certificate verifies under is found once per signing key (issuer name and authority key
  // identifier) and bundle.
  let lastRoots:
    | { pem: string; certs: CertificateInfo[]; trusts: string[]; rootBySigner: Map<string, string> }
    | undefined;
  let lastTop: { pem: string; facts: CertificateFacts } | undefined;
  const note = (result: IssueResult) => {
    if (result.signer !== LOCAL_SIGNER_NAME) return;
    const chain = result.certChain;
    const rootsPem = chain[chain.length - 1]!;
    if (lastRoots?.pem !== rootsPem) {
      const certs = parseCertificates(rootsPem, 'trust bundle');
      lastRoots = {
        pem: rootsPem,
        certs,
        trusts: certs.map((r) => r.fingerprint256),
        rootBySigner: new Map(),
      };
    }
    const leaf = readCertificateFacts(decodePem(chain[0]!, 'issued certificate')[0]!.der);
    const topPem = chain.length > 2 ? chain[chain.length - 2]! : chain[0]!;
    // The chain's top is the same intermediate call after call: read once per certificate.
    if (chain.length > 2 && lastTop?.pem !== topPem)
      lastTop = { pem: topPem, facts: readCertificateFacts(decodePem(topPem, 'issued chain')[0]!.der) };
    const top = chain.length > 2 ? lastTop!.facts : leaf;
    const signer =
      top.authorityKeyId && `${top.issuerDer.toString('hex')}/${top.authorityKeyId.toString('hex')}`;
    let signedUnder = signer ? lastRoots.rootBySigner.get(signer) : undefined;
    if (signedUnder === undefined) {
      const x509 = new X509Certificate(topPem);
      signedUnder = lastRoots.certs.find((r) => x509.verify(r.publicKey))?.fingerprint256 ?? 'unknown';
      if (signer) {
        if (lastRoots.rootBySigner.size >= MAX_SIGNERS_REMEMBERED) lastRoots.rootBySigner.clear();
        lastRoots.rootBySigner.set(signer, signedUnder);
      }
    }
    recorder.record(result.spiffeId, {
      at: new Date().toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      trusts: lastRoots.trusts,
      signedUnder,
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
