// A Signer over the Kubernetes CSR API (Istio's ISTIOD_RA_KUBERNETES_API): each workload CSR becomes
// a certificates.k8s.io/v1 CertificateSigningRequest for `<CERT_SIGNER_DOMAIN>/<signer>`, approved
// by meshca (the RA has already authenticated and authorized the caller), signed by whatever
// controller serves that signer (cert-manager, meshca's own signer), checked against the signer's
// root from meshConfig.caCertificates, and deleted. Every way it can go wrong leaves a Warning Event
// on the CSR for `kubectl describe csr` and a clear error for the workload.
import { caUnusable, invalidInput } from '../../errors.js';
import type { Logger } from '../../log.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import { parseCsr } from '../../pki/parse-csr.js';
import type { CertificateInfo } from '../../pki/types.js';
import { type CsrApi, MIN_CSR_EXPIRATION_SECONDS, WORKLOAD_CSR_USAGES } from './kubernetes-csr/csr-api.js';
import { exchangeCsr } from './kubernetes-csr/exchange-csr.js';
import type { Signer } from './signer.js';

/** How long a CSR may wait for its certificate when the caller gives no signal (Istio's 60 s). */
export const DEFAULT_CSR_TIMEOUT_MS = 60_000;

/** A signer reached through the Kubernetes CSR API: one per caCertificates signer in the Kubernetes home. */
export interface KubernetesCsrSignerDefinition {
  readonly kind: 'KubernetesCSR';
  readonly name: string;
  readonly rootsPem: readonly string[];
  readonly source: string;
}

/** The cluster access every Kubernetes CSR signer of one replica shares. */
export interface KubernetesCsrAccess {
  api: CsrApi;
  replicaTag: string;
}

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
      const chain = await exchangeCsr({
        api,
        replicaTag: opts.replicaTag,
        signerName,
        requestPem: request.csrPem,
        publicKey: csr.publicKey,
        expirationSeconds,
        usages: WORKLOAD_CSR_USAGES,
        roots,
        approval: `meshca authenticated the workload ${request.spiffeId} (request ${request.requestId})`,
        timeoutMs,
        signal,
        log,
      });
      return { chain: chain.map((c) => c.pem) };
    },
    roots: async () => roots.map((r) => r.pem),
    async close() {},
  };
}
