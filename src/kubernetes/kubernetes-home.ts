// The Kubernetes home, assembled: the CA's bundle in Secrets, tokens checked by TokenReview, the
// trust bundle published to every namespace by the elected leader, and Events on refused updates.
// The server sees only a CaMode, a TokenVerifier and `attach`/`close`.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CaMode, CertificateAuthority } from '../ca/certificate-authority.js';
import type { RootRenewal } from '../ca/renew-self-signed-root.js';
import type { RotationInServiceHome } from '../ca/rotation/rotation-home.js';
import { invalidInput } from '../errors.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import { replicaTag } from '../issuance/signers/kubernetes-csr/csr-name.js';
import type { KubernetesCsrAccess } from '../issuance/signers/kubernetes-csr-signer.js';
import type { Logger } from '../log.js';
import type { KeyType } from '../pki/types.js';
import type { CsrSignerPolicy } from './csr-signer/csr-signer-policy.js';
import { type CsrSigner, startCsrSigner } from './csr-signer/kubernetes-csr-signer.js';
import { createKubernetesJwksVerifier } from './jwks-token-verifier.js';
import { isNotFound, kubeApiError } from './kube-api-error.js';
import { type KubeClient, type KubeconfigSource, loadKubeClient } from './kube-client.js';
import { CACERTS_SECRET, kubernetesCaStore } from './kubernetes-ca-store.js';
import { kubernetesCsrApi } from './kubernetes-csr-api.js';
import { type LeaderLease, startLeaderLease } from './leader-lease.js';
import { publishRootConfigMaps, type RootConfigMaps } from './publish-root-configmaps.js';
import { recordWarningEvent } from './record-event.js';
import { kubernetesRotationInService } from './rotation/kubernetes-rotation-in-service.js';
import { type SecretRootRenewalSettings, watchRootSecretRenewal } from './rotation/renew-root-secret.js';
import { createTokenReviewVerifier } from './token-review-verifier.js';
import { keepWorkloadSecrets, type WorkloadSecrets } from './workload-secrets/keep-workload-secrets.js';
import { type IstiodTls, keepIstiodTls } from './write-istiod-tls.js';

export interface KubernetesHomeOptions {
  from: KubeconfigSource;
  namespace: string;
  trustDomain: string;
  keyType: KeyType;
  days?: number;
  /** Audiences a workload token must carry (Istio's TOKEN_AUDIENCES). */
  audiences: string[];
  /** Leader lease duration (default 15 s) and TokenReview timeout (default 5 s); tests shorten them. */
  leaseDurationMs?: number;
  tokenReviewTimeoutMs?: number;
  /** This replica's name in the Lease (default: host name and a random suffix). */
  identity?: string;
  /** How workload tokens are checked: a TokenReview each (default), or offline with the issuer's keys. */
  tokenCheck?: 'tokenreview' | 'jwks';
  /** Keep Secret istiod-tls (istiod's serving certificate) issued by this CA, as istio-csr does. */
  istiodTls?: boolean;
  /** Sign the CertificateSigningRequests of these signer names (serve --csr-signer-names), leader only. */
  csrSigner?: { signerNames: readonly string[]; policy: Omit<CsrSignerPolicy, 'trustDomain'> };
  /** Keep Citadel's istio.<serviceaccount> Secrets (serve --workload-secrets), leader only. */
  workloadSecrets?: { excludeNamespaces: readonly string[]; writesPerSecond: number; ttlSeconds: number };
  /** When the leader renews the self-signed root in istio-ca-secret (Istio's CITADEL_SELF_SIGNED_* settings). */
  rootRenewal?: SecretRootRenewalSettings;
  log: Logger;
}

export interface KubernetesHome {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly caMode: CaMode;
  readonly tokens: TokenVerifier;
  readonly leader: () => boolean;
  /** A staged root change (meshca rotate) in this cluster: the plan in a Secret, records per replica. */
  rotationInService(onRecordsWriteFailed: (err: Error) => void): Promise<RotationInServiceHome>;
  /** The CSR API for RA mode's signers (ISTIOD_RA_KUBERNETES_API); it watches only once used. */
  readonly csr: KubernetesCsrAccess;
  /** Follows the CA in service: publishes its roots (unless `publishRoots` is false) and reports refused updates. */
  attach(
    ca: CertificateAuthority,
    publish: { roots: boolean; onRootRenewed?: (renewal: RootRenewal) => void },
  ): void;
  close(): Promise<void>;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkNamespace(namespace: string, source: string): string {
  if (!NAMESPACE.test(namespace))
    throw invalidInput(
      'KUBE_NAMESPACE_INVALID',
      `${source} "${namespace}" is not a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)`,
    );
  return namespace;
}

export async function openKubernetesHome(opts: KubernetesHomeOptions): Promise<KubernetesHome> {
  const { namespace, log } = opts;
  const client = await loadKubeClient(opts.from);
  // One call up front: an unreachable server, bad credentials or a missing namespace stop the start
  // with one clear message instead of a CA that half works.
  try {
    await client.core.readNamespace({ name: namespace });
  } catch (err) {
    if (isNotFound(err))
      throw invalidInput(
        'KUBE_NAMESPACE_INVALID',
        `namespace ${namespace} does not exist in the cluster at ${client.server}; create it (kubectl create namespace ${namespace}) or give another with --namespace`,
      );
    throw kubeApiError(err, { verb: 'get', resource: 'namespaces', name: namespace }, client.server);
  }
  log.info('Kubernetes home', {
    event: 'kube-home',
    server: client.server,
    kubeconfig: client.source,
    namespace,
  });
  const store = kubernetesCaStore({
    client,
    namespace,
    trustDomain: opts.trustDomain,
    keyType: opts.keyType,
    days: opts.days,
    log,
  });
  const tokens =
    opts.tokenCheck === 'jwks'
      ? await createKubernetesJwksVerifier({ client, audiences: opts.audiences, log })
      : createTokenReviewVerifier({
          client,
          audiences: opts.audiences,
          timeoutMs: opts.tokenReviewTimeoutMs,
        });
  // Every replica's CSRs carry its own tag, so names never collide and each watches only its own.
  const tag = replicaTag(opts.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`);
  const csrApi = await kubernetesCsrApi({ client, replicaTag: tag, log });
  let configMaps: RootConfigMaps | undefined;
  let lease: LeaderLease | undefined;
  let istiodTls: IstiodTls | undefined;
  let csrSigner: CsrSigner | undefined;
  let workloadSecrets: WorkloadSecrets | undefined;
  let renewal: { check(): Promise<void>; stop(): void } | undefined;
  return {
    client,
    namespace,
    caMode: { kind: 'store', store },
    tokens,
    leader: () => lease?.isLeader() ?? false,
    rotationInService: (onRecordsWriteFailed) =>
      kubernetesRotationInService({
        client,
        namespace,
        replica: opts.identity ?? hostname(),
        log,
        onRecordsWriteFailed,
      }),
    csr: { api: csrApi, replicaTag: tag },
    attach(ca, publish) {
      if (publish.roots) {
        const published = publishRootConfigMaps({ client, log });
        configMaps = published;
        published.setRoots(ca.bundle.rootsPem);
        ca.on('bundle', ({ bundle }) => published.setRoots(bundle.rootsPem));
      }
      ca.on('reload-failed', ({ error }) => {
        const source = store.source();
        void recordWarningEvent(
          client,
          { kind: 'Secret', namespace, name: source?.name ?? CACERTS_SECRET, uid: source?.uid },
          {
            reason: 'CaBundleRefused',
            message: `meshca keeps the last good bundle in service: ${error.message}`,
          },
          log,
        );
      });
      const tls = opts.istiodTls ? keepIstiodTls({ client, namespace, log }) : undefined;
      istiodTls = tls;
      if (tls) ca.on('bundle', ({ bundle }) => lease?.isLeader() && void tls.write(bundle));
      const signer = opts.csrSigner
        ? startCsrSigner({
            client,
            signerNames: opts.csrSigner.signerNames,
            policy: { ...opts.csrSigner.policy, trustDomain: opts.trustDomain },
            bundle: () => ca.bundle,
            log,
          })
        : undefined;
      csrSigner = signer;
      const secrets = opts.workloadSecrets
        ? keepWorkloadSecrets({ client, trustDomain: opts.trustDomain, ...opts.workloadSecrets, log })
        : undefined;
      workloadSecrets = secrets;
      if (secrets) {
        secrets.setBundle(ca.bundle);
        ca.on('bundle', ({ bundle }) => secrets.setBundle(bundle));
      }
      const renewing = opts.rootRenewal
        ? watchRootSecretRenewal({
            client,
            namespace,
            settings: opts.rootRenewal,
            due: () => (lease?.isLeader() ?? false) && ca.bundle.source === 'self-signed',
            onRenewed: (r) => publish.onRootRenewed?.(r),
            log,
          })
        : undefined;
      renewal = renewing;
      lease = startLeaderLease({
        client,
        namespace,
        durationMs: opts.leaseDurationMs,
        identity: opts.identity,
        log,
        onStartedLeading: () => {
          void renewing?.check();
          configMaps?.setActive(true);
          tls?.setActive(true, () => ca.bundle);
          signer?.setActive(true);
          secrets?.setActive(true);
        },
        onStoppedLeading: () => {
          configMaps?.setActive(false);
          tls?.setActive(false, () => ca.bundle);
          signer?.setActive(false);
          secrets?.setActive(false);
        },
      });
    },
    async close() {
      renewal?.stop();
      csrApi.close();
      configMaps?.close();
      istiodTls?.close();
      csrSigner?.close();
      workloadSecrets?.close();
      await lease?.close();
    },
  };
}
