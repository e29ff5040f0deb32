// A Signer (issuance/signers/signer.ts) that asks a Kubernetes CSR signer through the real API
// server, as any Kubernetes client would: create a CertificateSigningRequest for the signer name,
// approve it (as an admin), wait on one shared watch for `status.certificate` or a Failed
// condition, and delete it. The tests run the signer conformance suite through it against meshca's
// `serve --csr-signer-names`.
import type { V1CertificateSigningRequest } from '@kubernetes/client-node';
import { errorForCode, invalidInput, unavailable } from '../../src/errors.js';
import { WORKLOAD_CSR_USAGES } from '../../src/issuance/signers/kubernetes-csr/csr-api.js';
import type { SignedChain, Signer, SignRequest } from '../../src/issuance/signers/signer.js';
import { statusOf } from '../../src/kubernetes/kube-api-error.js';
import type { KubeClient } from '../../src/kubernetes/kube-client.js';
import { CSR_COLLECTION, outcomeOf } from '../../src/kubernetes/kubernetes-csr-api.js';
import { watchObjects } from '../../src/kubernetes/watch-objects.js';
import { silentLogger } from '../../src/log.js';
import { decodePem, encodePem } from '../../src/pki/pem.js';

export const WORKLOAD_USAGES = [...WORKLOAD_CSR_USAGES];

export function csrApiSigner(opts: {
  client: KubeClient;
  signerName: string;
  rootsPem: string[];
  timeoutMs?: number;
}): Signer {
  const { client, signerName } = opts;
  const fieldSelector = `spec.signerName=${signerName}`;
  const waiters = new Map<string, (csr: V1CertificateSigningRequest) => void>();
  const watch = watchObjects<V1CertificateSigningRequest>({
    client,
    path: CSR_COLLECTION,
    fieldSelector,
    list: () => client.certificates.listCertificateSigningRequest({ fieldSelector }),
    request: { resource: 'certificatesigningrequests' },
    log: silentLogger,
    onChange(objects) {
      for (const csr of objects.values()) waiters.get(csr.metadata?.name ?? '')?.(csr);
    },
  });

  const answered = (name: string, signal?: AbortSignal) =>
    new Promise<V1CertificateSigningRequest>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(name);
        reject(
          unavailable('RA_SIGNER_TIMEOUT', `CertificateSigningRequest ${name} was not answered in time`),
        );
      }, opts.timeoutMs ?? 30_000);
      const done = (csr: V1CertificateSigningRequest) => {
        if (!outcomeOf(csr)) return;
        clearTimeout(timer);
        waiters.delete(name);
        resolve(csr);
      };
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        waiters.delete(name);
        reject(signal.reason);
      });
      waiters.set(name, done);
    });

  return {
    name: signerName,
    async sign(request: SignRequest, signal?: AbortSignal): Promise<SignedChain> {
      if (signal?.aborted) throw signal.reason;
      await watch.synced;
      // As Istio's RA does before a CSR leaves: it may name only the identity asked for.
      for (const uri of request.csr?.uris ?? [])
        if (uri !== request.spiffeId)
          throw invalidInput('RA_SAN_INVALID', `the CSR names ${uri}, not ${request.spiffeId}`);
      let created: V1CertificateSigningRequest;
      try {
        created = await client.certificates.createCertificateSigningRequest({
          body: {
            metadata: { generateName: 'conformance-' },
            spec: {
              request: Buffer.from(request.csrPem).toString('base64'),
              signerName,
              usages: WORKLOAD_USAGES,
              expirationSeconds: request.ttlSeconds,
            },
          },
        });
      } catch (err) {
        // 422: the API server's own validation (the CSR does not parse or verify; the lifetime).
        if (statusOf(err) === 422)
          throw invalidInput(
            'KUBE_CSR_REFUSED',
            `the API server refused the CSR: ${(err as { body?: string }).body}`,
          );
        throw err;
      }
      const name = created.metadata!.name!;
      const answer = answered(name, signal);
      try {
        await client.certificates.replaceCertificateSigningRequestApproval({
          name,
          body: {
            ...created,
            status: {
              conditions: [
                {
                  type: 'Approved',
                  status: 'True',
                  reason: 'ConformanceTest',
                  message: 'approved by the test',
                },
              ],
            },
          },
        });
        const outcome = outcomeOf(await answer)!;
        if (outcome.kind !== 'issued')
          throw errorForCode(
            outcome.reason === 'CAExpired' ? 'KUBE_CSR_SIGNING_FAILED' : 'KUBE_CSR_REFUSED',
            outcome.message,
          );
        const pem = outcome.certificatePem;
        return { chain: decodePem(pem).map((b) => encodePem(b.type, b.der)) };
      } finally {
        answer.catch(() => {});
        await client.certificates.deleteCertificateSigningRequest({ name }).catch(() => {});
      }
    },
    roots: async () => opts.rootsPem,
    close: async () => watch.close(),
  };
}
