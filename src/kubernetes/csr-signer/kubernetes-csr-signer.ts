// meshca as a Kubernetes CSR signer (`serve --csr-signer-names`): the leader watches the
// CertificateSigningRequests of its signer names and, for each that is Approved (the API server does
// not enforce approval; a signer must), neither Denied nor Failed and without a certificate yet,
// either writes `status.certificate` (leaf + chain, signed by the CA in service) or a Failed
// condition with a reason and an Event. It works from the whole current set, so a missed event or a
// leader change only delays a request.
import type {
  V1CertificateSigningRequest,
  V1CertificateSigningRequestCondition,
} from '@kubernetes/client-node';
import type { SigningBundle } from '../../ca/signing-bundle.js';
import { caUnusable, type MeshcaError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { issueWorkloadCertificate } from '../../pki/issue-workload-certificate.js';
import { isConflict, isNotFound, kubeApiError } from '../kube-api-error.js';
import type { KubeClient } from '../kube-client.js';
import { CSR_COLLECTION } from '../kubernetes-csr-api.js';
import { onePassAtATime } from '../one-pass-at-a-time.js';
import { recordWarningEvent } from '../record-event.js';
import { type ObjectsWatch, watchObjects } from '../watch-objects.js';
import { type CsrSignerPolicy, checkCsrAgainstPolicy } from './csr-signer-policy.js';

export interface CsrSigner {
  /** Starts (leader) or stops (not leader) watching and signing. */
  setActive(active: boolean): void;
  close(): void;
}

export interface CsrSignerOptions {
  client: KubeClient;
  /** Full signer names, e.g. example.com/foo; CSRs naming others are never touched. */
  signerNames: readonly string[];
  policy: CsrSignerPolicy;
  /** The bundle in service, read once per request. */
  bundle: () => SigningBundle;
  log: Logger;
  retryMs?: { min: number; max: number };
}

const has = (csr: V1CertificateSigningRequest, type: string) =>
  (csr.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

/** Approved, not Denied or Failed, and no certificate yet: the signer's work. */
export function awaitsSigning(csr: V1CertificateSigningRequest): boolean {
  return has(csr, 'Approved') && !has(csr, 'Denied') && !has(csr, 'Failed') && !csr.status?.certificate;
}

export function startCsrSigner(opts: CsrSignerOptions): CsrSigner {
  const { client, log } = opts;
  /** Per signer name, the requests its watch sees (by "/name"). */
  const seen = new Map<string, ReadonlyMap<string, V1CertificateSigningRequest>>();
  /** uid → resourceVersion already answered, until the watch shows the answer (or the CSR goes). */
  const answered = new Map<string, string>();
  let watches: ObjectsWatch[] = [];

  const writeStatus = async (csr: V1CertificateSigningRequest, verb: string) => {
    const name = csr.metadata!.name!;
    await client.certificates.replaceCertificateSigningRequestStatus({ name, body: csr });
    log.info(`${verb} CertificateSigningRequest ${name}`, {
      event: verb === 'signed' ? 'csr-signed' : 'csr-refused',
      name,
      signerName: csr.spec.signerName,
    });
  };

  const fail = async (csr: V1CertificateSigningRequest, reason: string, error: MeshcaError) => {
    const condition: V1CertificateSigningRequestCondition = {
      type: 'Failed',
      status: 'True',
      reason,
      message: error.message,
      lastUpdateTime: new Date(),
      lastTransitionTime: new Date(),
    };
    await writeStatus(
      { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] } },
      'refused',
    );
    log.warn(error.message, { event: 'csr-refused-why', code: error.code, reason, name: csr.metadata?.name });
    await recordWarningEvent(
      client,
      {
        kind: 'CertificateSigningRequest',
        apiVersion: 'certificates.k8s.io/v1',
        namespace: '',
        name: csr.metadata!.name!,
        uid: csr.metadata?.uid,
      },
      { reason: `CertificateSigning${reason}`, message: error.message },
      log,
    );
  };

  const answer = async (csr: V1CertificateSigningRequest) => {
    const verdict = checkCsrAgainstPolicy(csr, opts.policy);
    if (!verdict.ok) return fail(csr, verdict.reason, verdict.error);
    const bundle = opts.bundle();
    const signingCert = bundle.issuer.certificate;
    if (signingCert.notAfter.getTime() <= Date.now())
      return fail(
        csr,
        'CAExpired',
        caUnusable(
          'KUBE_CSR_SIGNING_FAILED',
          `meshca cannot sign CertificateSigningRequest ${csr.metadata?.name}: its signing certificate "${signingCert.subject}" expired at ${signingCert.notAfter.toISOString()}; plug in a new intermediate`,
        ),
      );
    const leaf = await issueWorkloadCertificate({
      issuer: bundle.issuer,
      csr: verdict.csr,
      spiffeId: verdict.spiffeId,
      ttlSeconds: verdict.ttlSeconds,
    });
    const pem = [leaf.pem, ...bundle.chainPems].join('');
    await writeStatus(
      { ...csr, status: { ...csr.status, certificate: Buffer.from(pem).toString('base64') } },
      'signed',
    );
  };

  const pass = async () => {
    const live = new Set<string>();
    for (const objects of seen.values())
      for (const csr of objects.values()) {
        const uid = csr.metadata?.uid ?? '';
        live.add(uid);
        if (!awaitsSigning(csr) || answered.get(uid) === csr.metadata?.resourceVersion) continue;
        if (watches.length === 0) return;
        try {
          await answer(csr);
          answered.set(uid, csr.metadata?.resourceVersion ?? '');
        } catch (err) {
          // A conflict or a deleted request: the watch brings the new state, and another pass.
          if (isConflict(err) || isNotFound(err)) continue;
          const name = csr.metadata?.name;
          const error = kubeApiError(
            err,
            { verb: 'update', resource: 'certificatesigningrequests/status', name },
            client.server,
          );
          log.warn(`cannot answer CertificateSigningRequest ${name}; retrying on the next change`, {
            event: 'csr-answer-failed',
            name,
            code: error.code,
            reason: error.message,
          });
        }
      }
    for (const uid of answered.keys()) if (!live.has(uid)) answered.delete(uid);
  };

  const reconcile = onePassAtATime(pass, () => watches.length > 0);

  const start = () => {
    watches = opts.signerNames.map((signerName) => {
      const fieldSelector = `spec.signerName=${signerName}`;
      const watch = watchObjects<V1CertificateSigningRequest>({
        client,
        path: CSR_COLLECTION,
        fieldSelector,
        list: () => client.certificates.listCertificateSigningRequest({ fieldSelector }),
        request: { resource: 'certificatesigningrequests' },
        log,
        retryMs: opts.retryMs,
        onChange(objects) {
          seen.set(signerName, new Map(objects));
          reconcile();
        },
      });
      watch.synced.then(
        () =>
          log.info(`signing CertificateSigningRequests for ${signerName}`, {
            event: 'csr-signer-watching',
            signerName,
          }),
        (err: Error) =>
          log.error(`cannot watch CertificateSigningRequests for ${signerName}; retrying`, {
            event: 'csr-signer-watch-failed',
            signerName,
            reason: err.message,
          }),
      );
      return watch;
    });
  };

  const stop = () => {
    for (const w of watches) w.close();
    watches = [];
    seen.clear();
  };

  return {
    setActive(active) {
      if (active && watches.length === 0) start();
      if (!active) stop();
    },
    close: stop,
  };
}
