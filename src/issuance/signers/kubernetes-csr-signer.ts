// A Signer over the Kubernetes CSR API (Istio's ISTIOD_RA_KUBERNETES_API): each workload CSR becomes
// a certificates.k8s.io/v1 CertificateSigningRequest for `<CERT_SIGNER_DOMAIN>/<signer>`, approved
// by meshca (the RA has already authenticated and authorized the caller), signed by whatever
// controller serves that signer (cert-manager, meshca's own signer), checked against the signer's
// root from meshConfig.caCertificates, and deleted. Every way it can go wrong leaves a Warning Event
// on the CSR for `kubectl describe csr` and a clear error for the workload.
import { caUnusable, invalidInput, isMeshcaError, permissionDenied, unavailable } from '../../errors.js';
import type { Logger } from '../../log.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import { parseCsr } from '../../pki/parse-csr.js';
import type { CertificateInfo } from '../../pki/types.js';
import { verifyChain } from '../../pki/verify-chain.js';
import { type CsrApi, WORKLOAD_CSR_USAGES } from './kubernetes-csr/csr-api.js';
import { csrName } from './kubernetes-csr/csr-name.js';
import type { Signer } from './signer.js';

/** The API server refuses expirationSeconds below 600 (certificates.k8s.io/v1 validation). */
export const MIN_CSR_EXPIRATION_SECONDS = 600;
/** How long a CSR may wait for its certificate when the caller gives no signal (Istio's 60 s). */
export const DEFAULT_CSR_TIMEOUT_MS = 60_000;

export interface KubernetesCsrSignerOptions {
  /** Full signer name, the CSR's signerName. */
  name: string;
  api: CsrApi;
  /** replicaTag() of this replica: the middle of every CSR name. */
  replicaTag: string;
  /** The signer's roots from meshConfig.caCertificates; every chain must verify against them. */
  rootsPem: readonly string[];
  timeoutMs?: number;
  log: Logger;
}

export function createKubernetesCsrSigner(opts: KubernetesCsrSignerOptions): Signer {
  const { api, log, name: signerName } = opts;
  const roots: CertificateInfo[] = opts.rootsPem.flatMap((pem) =>
    parseCertificates(pem, `caCertificates for ${signerName}`),
  );
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CSR_TIMEOUT_MS;
  const rootsEnd = Math.min(...roots.map((r) => r.notAfter.getTime()));

  return {
    name: signerName,
    async sign(request, signal) {
      signal?.throwIfAborted();
      const csr = request.csr ?? parseCsr(request.csrPem);
      if (csr.uris.length !== 1 || csr.uris[0] !== request.spiffeId) {
        // The signer certifies what the CSR names, so the CSR must name exactly the caller.
        throw invalidInput(
          'RA_SAN_INVALID',
          `the CSR names ${csr.uris.join(', ') || 'no URI'} but the caller is ${request.spiffeId}; a CSR sent to the Kubernetes CSR API must name exactly the caller's identity`,
        );
      }
      // The cluster's signer certifies what the CSR asks for (cert-manager fails a CA request), so a
      // CSR asking for a CA never leaves: the same refusal as the RA's.
      if (csr.requestsCa) {
        throw invalidInput(
          'RA_CSR_REQUESTS_CA',
          'the CSR asks for a CA certificate (basicConstraints CA:TRUE or keyUsage keyCertSign); workloads get leaf certificates only',
        );
      }
      if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < MIN_CSR_EXPIRATION_SECONDS) {
        throw invalidInput(
          'RA_KUBE_CSR_TTL_TOO_SHORT',
          `a lifetime of ${request.ttlSeconds} s cannot be asked of signer ${signerName}: the Kubernetes CSR API grants at least ${MIN_CSR_EXPIRATION_SECONDS} s (expirationSeconds); ask for ${MIN_CSR_EXPIRATION_SECONDS} s or more`,
        );
      }
      // Signers such as cert-manager grant what expirationSeconds asks even past their CA's end; a
      // leaf never outlives the roots it is checked against.
      const rootSeconds = Math.floor((rootsEnd - Date.now()) / 1000);
      if (rootSeconds < MIN_CSR_EXPIRATION_SECONDS) {
        throw caUnusable(
          'RA_SIGNER_NO_ROOT',
          `the roots of signer ${signerName} in meshConfig.caCertificates end within ${MIN_CSR_EXPIRATION_SECONDS} s (${new Date(rootsEnd).toISOString()}); put the signer's current root there`,
        );
      }
      const expirationSeconds = Math.min(request.ttlSeconds, rootSeconds);
      const deadline = AbortSignal.timeout(timeoutMs);
      const until = signal ? AbortSignal.any([signal, deadline]) : deadline;
      const name = csrName(opts.replicaTag);
      const { uid } = await api.create({
        name,
        signerName,
        requestPem: request.csrPem,
        expirationSeconds,
        usages: WORKLOAD_CSR_USAGES,
      });
      const target = { name, uid };
      const refuse = async (reason: string, error: Error): Promise<never> => {
        await api.warn(target, { reason, message: error.message });
        throw error;
      };
      try {
        await api.approve(name, {
          reason: 'MeshcaApproved',
          message: `meshca authenticated the workload ${request.spiffeId} (request ${request.requestId})`,
        });
        let outcome: Awaited<ReturnType<CsrApi['outcome']>>;
        try {
          outcome = await api.outcome(name, until);
        } catch (err) {
          if (signal?.aborted) {
            await api.warn(target, {
              reason: 'MeshcaGaveUp',
              message: String(signal.reason?.message ?? signal.reason),
            });
            throw signal.reason;
          }
          if (!deadline.aborted) throw err;
          return await refuse(
            'MeshcaTimedOut',
            unavailable(
              'RA_KUBE_CSR_TIMEOUT',
              `CertificateSigningRequest ${name} for signer ${signerName} got no certificate within ${timeoutMs / 1000} s; check that a controller serves signerName ${signerName} (cert-manager with its CertificateSigningRequest controllers, or meshca --csr-signer-names)`,
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
              `signer ${signerName} wrote a status.certificate that is not a PEM certificate chain: ${(err as Error).message}`,
              err,
            ),
          );
        }
        const leaf = certs[0]!;
        const chain = certs.filter((c, i) => i === 0 || !c.selfSigned);
        const verdict = verifyChain({ leaf, intermediates: chain.slice(1), roots });
        if (!verdict.ok) {
          return await refuse(
            'MeshcaChainUntrusted',
            caUnusable(
              'RA_KUBE_CSR_CHAIN_UNTRUSTED',
              `the certificate signer ${signerName} issued for ${name} does not verify against its root in meshConfig.caCertificates: ${verdict.reasons.join('; ')}; make caCertificates hold the signer's current root`,
            ),
          );
        }
        if (!leaf.publicKey.equals(csr.publicKey)) {
          return await refuse(
            'MeshcaWrongKey',
            caUnusable(
              'RA_KUBE_CSR_BAD_CERTIFICATE',
              `signer ${signerName} issued a certificate for ${name} over another key than the CSR's`,
            ),
          );
        }
        return { chain: chain.map((c) => c.pem) };
      } catch (err) {
        if (isMeshcaError(err) || err === signal?.reason) throw err;
        throw unavailable('RA_SIGNER_FAILED', `signer ${signerName}: ${(err as Error)?.message ?? err}`, err);
      } finally {
        await api.delete(name).catch((err: Error) =>
          log.warn('cannot delete a CertificateSigningRequest; it expires on its own', {
            event: 'kube-csr-delete-failed',
            csr: name,
            reason: err.message,
          }),
        );
      }
    },
    roots: async () => roots.map((r) => r.pem),
    async close() {},
  };
}
