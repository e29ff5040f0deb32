// The Kubernetes CSR signer's view of the cluster (issuance/signers/kubernetes-csr/csr-api.ts):
// certificates.k8s.io/v1 CertificateSigningRequests created, approved, watched and deleted with
// the home's one client. One watch serves every request of this replica: its CSRs carry a label
// with the replica's tag, and each waiter looks its CSR up in the watched state, so a CSR signed
// before the watch saw it is found by the next list all the same.
import type * as k8s from '@kubernetes/client-node';
import type { CsrApi, CsrOutcome, NewCsr } from '../issuance/signers/kubernetes-csr/csr-api.js';
import type { Logger } from '../log.js';
import { isConflict, isNotFound, kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';
import { recordWarningEvent } from './record-event.js';
import { type ObjectsWatch, watchObjects } from './watch-objects.js';

/** The label naming the replica that made a CSR: its watch sees only its own. */
export const CSR_REPLICA_LABEL = 'meshca.io/replica';
const RESOURCE = 'certificatesigningrequests.certificates.k8s.io';
/** The cluster-scoped collection of CertificateSigningRequests, for watches. */
export const CSR_COLLECTION = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

/** The CSR's outcome, or undefined while it waits for its signer. */
export function outcomeOf(csr: k8s.V1CertificateSigningRequest): CsrOutcome | undefined {
  const conditions = csr.status?.conditions ?? [];
  const ended = conditions.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
  if (ended) {
    return {
      kind: ended.type === 'Denied' ? 'denied' : 'failed',
      reason: ended.reason ?? ended.type,
      message: ended.message ?? '',
    };
  }
  if (csr.status?.certificate) {
    return { kind: 'issued', certificatePem: Buffer.from(csr.status.certificate, 'base64').toString('utf8') };
  }
  return undefined;
}

export async function kubernetesCsrApi(opts: {
  client: KubeClient;
  replicaTag: string;
  log: Logger;
}): Promise<CsrApi & { close(): void }> {
  const { client, log } = opts;
  const lib = await import('@kubernetes/client-node');
  const api = client.config.makeApiClient(lib.CertificatesV1Api);
  const labelSelector = `${CSR_REPLICA_LABEL}=${opts.replicaTag}`;
  const waiters = new Map<string, (csr: k8s.V1CertificateSigningRequest) => void>();
  let current: ReadonlyMap<string, k8s.V1CertificateSigningRequest> = new Map();
  let watch: ObjectsWatch | undefined;

  const ensureWatch = () => {
    watch ??= watchObjects<k8s.V1CertificateSigningRequest>({
      client,
      path: CSR_COLLECTION,
      labelSelector,
      list: () => api.listCertificateSigningRequest({ labelSelector }),
      onChange(objects) {
        current = objects;
        for (const [name, notify] of waiters) {
          const csr = objects.get(`/${name}`);
          if (csr) notify(csr);
        }
      },
      request: { resource: RESOURCE },
      log,
    });
  };

  return {
    async create(csr: NewCsr) {
      ensureWatch();
      try {
        const made = await api.createCertificateSigningRequest({
          body: {
            apiVersion: 'certificates.k8s.io/v1',
            kind: 'CertificateSigningRequest',
            metadata: { name: csr.name, labels: { [CSR_REPLICA_LABEL]: opts.replicaTag } },
            spec: {
              signerName: csr.signerName,
              request: Buffer.from(csr.requestPem).toString('base64'),
              expirationSeconds: csr.expirationSeconds,
              usages: [...csr.usages],
            },
          },
        });
        return { uid: made.metadata?.uid ?? '' };
      } catch (err) {
        throw kubeApiError(err, { verb: 'create', resource: RESOURCE, name: csr.name }, client.server);
      }
    },

    async approve(name, why) {
      // The signer may touch the CSR between our read and our update; a conflict means read again.
      for (let attempt = 1; ; attempt++) {
        try {
          const csr = await api.readCertificateSigningRequest({ name });
          // Denied or failed already (an approval policy was quicker): outcome() reports it.
          if (outcomeOf(csr) && !csr.status?.certificate) return;
          const now = new Date();
          csr.status = {
            ...csr.status,
            conditions: [
              ...(csr.status?.conditions ?? []),
              {
                type: 'Approved',
                status: 'True',
                reason: why.reason,
                message: why.message,
                lastUpdateTime: now,
                lastTransitionTime: now,
              },
            ],
          };
          await api.replaceCertificateSigningRequestApproval({ name, body: csr });
          return;
        } catch (err) {
          if (isConflict(err) && attempt < 5) continue;
          throw kubeApiError(err, { verb: 'update', resource: `${RESOURCE}/approval`, name }, client.server);
        }
      }
    },

    outcome(name, signal) {
      return new Promise<CsrOutcome>((resolve, reject) => {
        const settle = (csr: k8s.V1CertificateSigningRequest) => {
          const outcome = outcomeOf(csr);
          if (!outcome) return;
          done();
          resolve(outcome);
        };
        const aborted = () => {
          done();
          reject(signal.reason);
        };
        const done = () => {
          waiters.delete(name);
          signal.removeEventListener('abort', aborted);
        };
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener('abort', aborted, { once: true });
        waiters.set(name, settle);
        const seen = current.get(`/${name}`);
        if (seen) settle(seen);
      });
    },

    async delete(name) {
      try {
        await api.deleteCertificateSigningRequest({ name });
      } catch (err) {
        if (isNotFound(err)) return;
        throw kubeApiError(err, { verb: 'delete', resource: RESOURCE, name }, client.server);
      }
    },

    warn: (csr, event) =>
      recordWarningEvent(
        client,
        { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', namespace: '', ...csr },
        event,
        log,
      ),

    close() {
      watch?.close();
      watch = undefined;
    },
  };
}
