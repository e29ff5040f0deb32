// One Citadel-style workload Secret (Istio ≤ 1.0): `istio.<serviceaccount>` of type
// istio.io/key-and-cert holding key.pem, cert-chain.pem (leaf, then the CA's chain) and
// root-cert.pem, what pods mounted at /etc/certs. Annotations say which bundle issued it and when it
// is due, so deciding whether to renew never parses a certificate.
import { generateKeyPairSync } from 'node:crypto';
import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { SigningBundle } from '../../ca/signing-bundle.js';
import { buildWorkloadCsr } from '../../pki/build-workload-csr.js';
import { issueWorkloadCertificate } from '../../pki/issue-workload-certificate.js';
import { encodePrivateKeyPem } from '../../pki/keys.js';
import { parseCsr } from '../../pki/parse-csr.js';
import { formatWorkloadId } from '../../pki/spiffe-id.js';
import { secretData } from '../secret-texts.js';

export const WORKLOAD_SECRET_TYPE = 'istio.io/key-and-cert';
export const WORKLOAD_SECRET_PREFIX = 'istio.';
/** The label that makes a Secret meshca's; one without it is never overwritten. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'meshca' } as const;
/** Citadel's annotation naming the service account. */
const SERVICE_ACCOUNT_ANNOTATION = 'istio.io/service-account.name';
const BUNDLE_ANNOTATION = 'meshca.io/issued-by-bundle';
const RENEW_ANNOTATION = 'meshca.io/renew-after';

export const workloadSecretName = (serviceAccount: string) => `${WORKLOAD_SECRET_PREFIX}${serviceAccount}`;

export const isMeshcasSecret = (secret: V1Secret) =>
  secret.metadata?.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY['app.kubernetes.io/managed-by'];

/**
 * When `secret` (meshca's) must be issued again: now when another bundle issued it (a CA change),
 * else at half its certificate's life, as Citadel renewed (grace period ratio 0.5).
 */
export function renewalDue(secret: V1Secret, bundle: SigningBundle): Date {
  const annotations = secret.metadata?.annotations ?? {};
  if (annotations[BUNDLE_ANNOTATION] !== bundle.fingerprint) return new Date(0);
  const at = Date.parse(annotations[RENEW_ANNOTATION] ?? '');
  return Number.isNaN(at) ? new Date(0) : new Date(at);
}

/** A fresh key and certificate for `account`'s SPIFFE ID, as the Secret to write (create or replace). */
export async function issueWorkloadSecret(opts: {
  account: V1ServiceAccount;
  bundle: SigningBundle;
  trustDomain: string;
  ttlSeconds: number;
  /** The Secret there now (meshca's), whose metadata is kept. */
  existing?: V1Secret;
}): Promise<V1Secret> {
  const { account, bundle } = opts;
  const namespace = account.metadata!.namespace!;
  const serviceAccount = account.metadata!.name!;
  const spiffeId = formatWorkloadId({ trustDomain: opts.trustDomain, namespace, serviceAccount });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuedAt = Date.now();
  const leaf = await issueWorkloadCertificate({
    issuer: bundle.issuer,
    csr: parseCsr(buildWorkloadCsr({ key: privateKey, uri: spiffeId })),
    spiffeId,
    ttlSeconds: opts.ttlSeconds,
  });
  // Half the life from now (notBefore is backdated for clock skew, so it is not the start here).
  const renewAt = new Date((issuedAt + leaf.notAfter.getTime()) / 2);
  const previous = opts.existing?.metadata;
  return {
    metadata: {
      ...previous,
      name: workloadSecretName(serviceAccount),
      namespace,
      labels: { ...previous?.labels, ...MANAGED_BY },
      annotations: {
        ...previous?.annotations,
        [SERVICE_ACCOUNT_ANNOTATION]: serviceAccount,
        [BUNDLE_ANNOTATION]: bundle.fingerprint,
        [RENEW_ANNOTATION]: renewAt.toISOString(),
      },
      // Kubernetes' garbage collector removes the Secret with its service account.
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ServiceAccount', name: serviceAccount, uid: account.metadata!.uid! },
      ],
    },
    type: WORKLOAD_SECRET_TYPE,
    data: secretData({
      'key.pem': encodePrivateKeyPem(privateKey),
      'cert-chain.pem': [leaf.pem, ...bundle.chainPems].join(''),
      'root-cert.pem': bundle.rootsPem,
    }),
  };
}
