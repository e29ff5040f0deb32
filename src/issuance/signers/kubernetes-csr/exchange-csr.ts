// One round trip through the Kubernetes CSR API, shared by workload certificates and the CA
// server's own (PILOT_CERT_PROVIDER=k8s.io/<signer>): create the CSR, approve it, wait for its
// outcome with a deadline, check the chain against the signer's roots, delete the CSR. Whatever goes
// wrong becomes a clear error and a Warning Event on the CSR.
import type { KeyObject } from 'node:crypto';
import { caUnusable, isMeshcaError, permissionDenied, unavailable } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { parseCertificates } from '../../../pki/parse-certificate.js';
import type { CertificateInfo } from '../../../pki/types.js';
import { verifyChain } from '../../../pki/verify-chain.js';
import type { CsrApi, CsrOutcome } from './csr-api.js';
import { csrName } from './csr-name.js';

export interface CsrExchange {
  api: CsrApi;
  replicaTag: string;
  signerName: string;
  requestPem: string;
  /** The CSR's key: the certificate must be over it. */
  publicKey: KeyObject;
  expirationSeconds: number;
  usages: readonly string[];
  /** The signer's roots (from meshConfig.caCertificates): the chain must verify against them. */
  roots: readonly CertificateInfo[];
  /** Why meshca approves, for the Approved condition (who was authenticated). */
  approval: string;
  timeoutMs: number;
  /** The caller's own signal (the RA's timeout); its reason is what rejects when it aborts. */
  signal?: AbortSignal;
  log: Logger;
}

/** The issued chain, leaf first, any trailing root dropped; rejects with a MeshcaError. */
export async function exchangeCsr(x: CsrExchange): Promise<CertificateInfo[]> {
  const { api, signerName } = x;
  const deadline = AbortSignal.timeout(x.timeoutMs);
  const until = x.signal ? AbortSignal.any([x.signal, deadline]) : deadline;
  const name = csrName(x.replicaTag);
  const { uid } = await api.create({
    name,
    signerName,
    requestPem: x.requestPem,
    expirationSeconds: x.expirationSeconds,
    usages: x.usages,
  });
  const refuse = async (reason: string, error: Error): Promise<never> => {
    await api.warn({ name, uid }, { reason, message: error.message });
    throw error;
  };
  try {
    await api.approve(name, { reason: 'MeshcaApproved', message: x.approval });
    let outcome: CsrOutcome;
    try {
      outcome = await api.outcome(name, until);
    } catch (err) {
      if (x.signal?.aborted) {
        const why = x.signal.reason as { message?: string } | undefined;
        await api.warn({ name, uid }, { reason: 'MeshcaGaveUp', message: String(why?.message ?? why) });
        throw x.signal.reason;
      }
      if (!deadline.aborted) throw err;
      return await refuse(
        'MeshcaTimedOut',
        unavailable(
          'RA_KUBE_CSR_TIMEOUT',
          `CertificateSigningRequest ${name} for signer ${signerName} got no certificate within ${x.timeoutMs / 1000} s; check that a controller serves signerName ${signerName} (cert-manager with its CertificateSigningRequest controllers, or meshca --csr-signer-names)`,
        ),
      );
    }
    if (outcome.kind !== 'issued') {
      const { reason, message } = outcome;
      return await refuse(
        outcome.kind === 'denied' ? 'MeshcaSawDenied' : 'MeshcaSawFailed',
        outcome.kind === 'denied'
          ? permissionDenied(
              'RA_KUBE_CSR_DENIED',
              `CertificateSigningRequest ${name} for signer ${signerName} was denied (${reason}): ${message}; see kubectl describe csr ${name} and the cluster's approval policy`,
            )
          : unavailable(
              'RA_KUBE_CSR_FAILED',
              `signer ${signerName} failed CertificateSigningRequest ${name} (${reason}): ${message}; see the signer's log`,
            ),
      );
    }
    let certs: CertificateInfo[];
    try {
      certs = parseCertificates(outcome.certificatePem, `status.certificate of ${name}`);
    } catch (err) {
      return await refuse(
        'MeshcaBadCertificate',
        caUnusable(
          'RA_KUBE_CSR_BAD_CERTIFICATE',
          `signer ${signerName} wrote a status.certificate for ${name} that is not a PEM certificate chain: ${(err as Error).message}`,
          err,
        ),
      );
    }
    const chain = certs.filter((c, i) => i === 0 || !c.selfSigned);
    const verdict = verifyChain({ leaf: chain[0]!, intermediates: chain.slice(1), roots: [...x.roots] });
    if (!verdict.ok) {
      return await refuse(
        'MeshcaChainUntrusted',
        caUnusable(
          'RA_KUBE_CSR_CHAIN_UNTRUSTED',
          `the certificate signer ${signerName} issued for ${name} does not verify against its root in meshConfig.caCertificates: ${verdict.reasons.join('; ')}; make caCertificates hold the signer's current root`,
        ),
      );
    }
    // The CSR's signature proved its key; a certificate over any other key is no answer to it.
    if (!chain[0]!.publicKey.equals(x.publicKey)) {
      return await refuse(
        'MeshcaWrongKey',
        caUnusable(
          'RA_KUBE_CSR_BAD_CERTIFICATE',
          `signer ${signerName} issued a certificate for ${name} over another key than the CSR's`,
        ),
      );
    }
    return chain;
  } catch (err) {
    if (isMeshcaError(err) || err === x.signal?.reason) throw err;
    throw unavailable('RA_SIGNER_FAILED', `signer ${signerName}: ${(err as Error)?.message ?? err}`, err);
  } finally {
    await api.delete(name).catch((err: Error) =>
      x.log.warn('cannot delete a CertificateSigningRequest; it expires on its own', {
        event: 'kube-csr-delete-failed',
        csr: name,
        reason: err.message,
      }),
    );
  }
}
