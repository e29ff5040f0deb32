// The CA's bundle in the Kubernetes home, as Istio keeps it: an operator's plugged-in `cacerts`
// Secret (Istio's file names or kubernetes.io/tls) when there is one, else a self-signed root in
// `istio-ca-secret`, made once. Replicas starting together race to create that Secret; the API
// server lets exactly one create succeed and the others read the winner's root.
import type { V1Secret } from '@kubernetes/client-node';
import type { BundleStore } from '../ca/certificate-authority.js';
import { bundleFromTexts, ISTIO_FILES } from '../ca/read-bundle-files.js';
import type { SigningBundle } from '../ca/signing-bundle.js';
import { configError } from '../errors.js';
import type { Logger } from '../log.js';
import { createRootCertificate } from '../pki/create-root-certificate.js';
import { encodePrivateKeyPem, generateKey } from '../pki/keys.js';
import type { KeyType } from '../pki/types.js';
import { isConflict, isNotFound, kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';
import { secretData, secretTexts } from './secret-texts.js';
import { watchObjects } from './watch-objects.js';

/** Istio's names. */
export const CACERTS_SECRET = 'cacerts';
export const SELF_SIGNED_CA_SECRET = 'istio-ca-secret';
export const SELF_SIGNED_CA_SECRET_TYPE = 'istio.io/ca-root';

export interface KubernetesCaStoreOptions {
  client: KubeClient;
  namespace: string;
  /** The self-signed root's organization, as in Istio (`O=cluster.local`). */
  trustDomain: string;
  keyType: KeyType;
  /** Self-signed root lifetime (Istio's default: 10 years). */
  days?: number;
  log: Logger;
}

export interface KubernetesCaStore extends BundleStore {
  /** The Secret the bundle in service came from (for Events about it). */
  readonly source: () => { name: string; uid?: string } | undefined;
}

export function kubernetesCaStore(opts: KubernetesCaStoreOptions): KubernetesCaStore {
  const { client, namespace } = opts;
  const server = client.server;
  let plugged = false;
  let loadedFrom: { name: string; uid?: string; resourceVersion?: string } | undefined;
  /** The istio-ca-secret version in service: the leader's root renewal changes it (renew-root-secret.ts). */
  let selfSignedVersion: string | undefined;

  const getSecret = async (name: string): Promise<V1Secret | undefined> => {
    try {
      return await client.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeApiError(err, { verb: 'get', resource: 'secrets', namespace, name }, server);
    }
  };

  const selfSigned = async (now?: Date): Promise<{ secret: V1Secret; created: boolean }> => {
    const existing = await getSecret(SELF_SIGNED_CA_SECRET);
    if (existing) return { secret: existing, created: false };
    const key = await generateKey(opts.keyType);
    const root = await createRootCertificate({
      key,
      subject: { O: opts.trustDomain },
      days: opts.days ?? 3650,
      now,
    });
    const body: V1Secret = {
      metadata: {
        name: SELF_SIGNED_CA_SECRET,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'meshca' },
      },
      type: SELF_SIGNED_CA_SECRET_TYPE,
      data: secretData({
        [ISTIO_FILES.cert]: root.pem,
        [ISTIO_FILES.key]: encodePrivateKeyPem(key),
        // Istio's secret carries an empty cert-chain.pem when the signing certificate is the root.
        [ISTIO_FILES.chain]: '',
        [ISTIO_FILES.roots]: root.pem,
      }),
    };
    try {
      return { secret: await client.core.createNamespacedSecret({ namespace, body }), created: true };
    } catch (err) {
      if (!isConflict(err)) {
        throw kubeApiError(
          err,
          { verb: 'create', resource: 'secrets', namespace, name: SELF_SIGNED_CA_SECRET },
          server,
        );
      }
      // Another replica created it first: serve its root, so all replicas agree.
      const winner = await getSecret(SELF_SIGNED_CA_SECRET);
      if (!winner)
        throw configError(
          'KUBE_CA_SECRET_INVALID',
          `Secret ${namespace}/${SELF_SIGNED_CA_SECRET} was created by another replica and deleted again at once; restart meshca`,
        );
      return { secret: winner, created: false };
    }
  };

  const bundleOf = (secret: V1Secret, source?: 'self-signed', now?: Date): SigningBundle => {
    const name = secret.metadata?.name ?? '';
    return bundleFromTexts(secretTexts(secret), {
      where: `Secret ${namespace}/${name}`,
      what: `Secret ${namespace}/${name}`,
      source,
      now,
    });
  };

  return {
    where: `Secret ${namespace}/${CACERTS_SECRET} (else ${namespace}/${SELF_SIGNED_CA_SECRET})`,
    source: () => loadedFrom,
    async load(now) {
      const cacerts = await getSecret(CACERTS_SECRET);
      if (cacerts) {
        const bundle = bundleOf(cacerts, undefined, now);
        plugged = true;
        loadedFrom = {
          name: CACERTS_SECRET,
          uid: cacerts.metadata?.uid,
          resourceVersion: cacerts.metadata?.resourceVersion,
        };
        return { bundle, created: false };
      }
      if (plugged) {
        // Falling back to the self-signed root would cut off every workload that trusts the plugged one.
        throw configError(
          'KUBE_CACERTS_DELETED',
          `Secret ${namespace}/${CACERTS_SECRET} was deleted; the plugged-in bundle in service keeps signing. Recreate the Secret, or restart meshca to fall back to the self-signed root in ${namespace}/${SELF_SIGNED_CA_SECRET}`,
        );
      }
      const { secret, created } = await selfSigned(now);
      loadedFrom = { name: SELF_SIGNED_CA_SECRET, uid: secret.metadata?.uid, resourceVersion: 'absent' };
      selfSignedVersion = secret.metadata?.resourceVersion;
      return { bundle: bundleOf(secret, 'self-signed', now), created };
    },
    watch(changed) {
      /** `inService`: the version the bundle in service came from; null when this Secret does not matter now. */
      const watchOne = (name: string, inService: () => string | undefined | null) =>
        watchObjects<V1Secret>({
          client,
          path: `/api/v1/namespaces/${namespace}/secrets`,
          fieldSelector: `metadata.name=${name}`,
          list: () => client.core.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${name}` }),
          request: { resource: 'secrets', namespace, name },
          log: opts.log,
          onChange(objects) {
            const version = objects.get(`${namespace}/${name}`)?.metadata?.resourceVersion ?? 'absent';
            const current = inService();
            if (current !== null && version !== current) changed();
          },
        });
      const watches = [
        watchOne(CACERTS_SECRET, () => loadedFrom?.resourceVersion),
        // Only while the self-signed root serves: then a renewed root there must go into service.
        watchOne(SELF_SIGNED_CA_SECRET, () => (plugged ? null : (selfSignedVersion ?? 'absent'))),
      ];
      return {
        close() {
          for (const w of watches) w.close();
        },
      };
    },
  };
}
