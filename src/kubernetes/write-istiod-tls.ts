// istiod's own serving certificate, for a mesh whose istiod runs with ENABLE_CA_SERVER=false (as
// cert-manager's istio-csr does it): the leader keeps Secret `istiod-tls` (kubernetes.io/tls:
// tls.crt with the chain, tls.key, ca.crt with the roots) current, issued by the CA in service for
// istiod's DNS names, re-issued at half its life and whenever the CA's bundle changes.
import { generateKeyPairSync } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { SigningBundle } from '../ca/signing-bundle.js';
import type { Logger } from '../log.js';
import { issueServingCertificate } from '../pki/issue-serving-certificate.js';
import { encodePrivateKeyPem } from '../pki/keys.js';
import { isNotFound, kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';
import { secretData } from './secret-texts.js';

export const ISTIOD_TLS_SECRET = 'istiod-tls';
export const ISTIOD_TLS_TTL_SECONDS = 24 * 3600;

/** The names Istio's proxies dial istiod by, in the CA's namespace. */
export const istiodDnsNames = (namespace: string) => [
  `istiod.${namespace}.svc`,
  `istiod.${namespace}.svc.cluster.local`,
  `istiod.${namespace}`,
  'istiod',
];

export interface IstiodTls {
  /** Issues now from `bundle` (on election and on every bundle change, while leading). */
  write(bundle: SigningBundle): Promise<void>;
  /** Starts (leader) or stops (not leader) the half-life renewals. */
  setActive(active: boolean, bundle: () => SigningBundle): void;
  close(): void;
}

export function keepIstiodTls(opts: { client: KubeClient; namespace: string; log: Logger }): IstiodTls {
  const { client, namespace, log } = opts;
  let timer: NodeJS.Timeout | undefined;
  /** The bundle in service, while this replica leads; undefined otherwise. */
  let current: (() => SigningBundle) | undefined;

  const schedule = (delayMs: number) => {
    clearTimeout(timer);
    if (!current) return;
    const bundle = current;
    timer = setTimeout(() => void write(bundle()), delayMs);
    timer.unref();
  };

  const write = async (bundle: SigningBundle): Promise<void> => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    try {
      const leaf = await issueServingCertificate({
        issuer: bundle.issuer,
        publicKey,
        dnsNames: istiodDnsNames(namespace),
        ips: [],
        ttlSeconds: ISTIOD_TLS_TTL_SECONDS,
      });
      const body: V1Secret = {
        metadata: {
          name: ISTIOD_TLS_SECRET,
          namespace,
          labels: { 'app.kubernetes.io/managed-by': 'meshca' },
        },
        type: 'kubernetes.io/tls',
        data: secretData({
          'tls.crt': [leaf.pem, ...bundle.chainPems].join(''),
          'tls.key': encodePrivateKeyPem(privateKey),
          'ca.crt': bundle.rootsPem,
        }),
      };
      let existing: V1Secret | undefined;
      try {
        existing = await client.core.readNamespacedSecret({ name: ISTIOD_TLS_SECRET, namespace });
      } catch (err) {
        if (!isNotFound(err))
          throw kubeApiError(
            err,
            { verb: 'get', resource: 'secrets', namespace, name: ISTIOD_TLS_SECRET },
            client.server,
          );
      }
      if (existing) {
        body.metadata = { ...existing.metadata, ...body.metadata };
        await client.core
          .replaceNamespacedSecret({ name: ISTIOD_TLS_SECRET, namespace, body })
          .catch((err) => {
            throw kubeApiError(
              err,
              { verb: 'update', resource: 'secrets', namespace, name: ISTIOD_TLS_SECRET },
              client.server,
            );
          });
      } else {
        await client.core.createNamespacedSecret({ namespace, body }).catch((err) => {
          throw kubeApiError(
            err,
            { verb: 'create', resource: 'secrets', namespace, name: ISTIOD_TLS_SECRET },
            client.server,
          );
        });
      }
      log.info(`wrote ${namespace}/${ISTIOD_TLS_SECRET}`, {
        event: 'istiod-tls-written',
        serial: leaf.serialHex,
        notAfter: leaf.notAfter.toISOString(),
      });
      schedule((ISTIOD_TLS_TTL_SECONDS * 1000) / 2);
    } catch (err) {
      log.warn(`cannot write ${namespace}/${ISTIOD_TLS_SECRET}; retrying in a minute`, {
        event: 'istiod-tls-failed',
        reason: (err as Error).message,
      });
      schedule(60_000);
    }
  };

  return {
    write,
    setActive(active, bundle) {
      current = active ? bundle : undefined;
      if (active) void write(bundle());
      else clearTimeout(timer);
    },
    close() {
      current = undefined;
      clearTimeout(timer);
    },
  };
}
