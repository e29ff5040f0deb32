// Self-signed root renewal in the Kubernetes home, as Istio's root rotator does it for
// istio-ca-secret: the leader re-issues the root with the same key before it expires and writes it
// back with the trust bundle old + new (replaced with the resourceVersion read, so a concurrent
// change wins and the next check looks again); every replica sees the Secret change and reloads.
import type { V1Secret } from '@kubernetes/client-node';
import { ISTIO_FILES } from '../../ca/read-bundle-files.js';
import { type RootRenewal, type RootRenewalPolicy, renewedRoot } from '../../ca/renew-self-signed-root.js';
import type { Logger } from '../../log.js';
import { isConflict, isNotFound, kubeApiError } from '../kube-api-error.js';
import type { KubeClient } from '../kube-client.js';
import { SELF_SIGNED_CA_SECRET } from '../kubernetes-ca-store.js';
import { secretData, secretTexts } from '../secret-texts.js';

export type SecretRootRenewalSettings = RootRenewalPolicy & { checkIntervalMs: number };

/** Renews the root in istio-ca-secret if due; resolves with what changed, or undefined. */
export async function renewRootSecretIfDue(opts: {
  client: KubeClient;
  namespace: string;
  policy: RootRenewalPolicy;
  now?: Date;
}): Promise<RootRenewal | undefined> {
  const { client, namespace } = opts;
  const request = { resource: 'secrets', namespace, name: SELF_SIGNED_CA_SECRET };
  let secret: V1Secret;
  try {
    secret = await client.core.readNamespacedSecret({ name: SELF_SIGNED_CA_SECRET, namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw kubeApiError(err, { verb: 'get', ...request }, client.server);
  }
  const texts = secretTexts(secret);
  const renewed = await renewedRoot(
    {
      cert: texts[ISTIO_FILES.cert] ?? '',
      key: texts[ISTIO_FILES.key] ?? '',
      roots: texts[ISTIO_FILES.roots] ?? texts[ISTIO_FILES.cert] ?? '',
    },
    `Secret ${namespace}/${SELF_SIGNED_CA_SECRET}`,
    opts.policy,
    opts.now,
  );
  if (!renewed) return undefined;
  const body: V1Secret = {
    ...secret,
    data: secretData({ ...texts, [ISTIO_FILES.cert]: renewed.cert, [ISTIO_FILES.roots]: renewed.roots }),
  };
  try {
    await client.core.replaceNamespacedSecret({ name: SELF_SIGNED_CA_SECRET, namespace, body });
  } catch (err) {
    if (isConflict(err)) return undefined; // changed meanwhile: the next check reads it again
    throw kubeApiError(err, { verb: 'update', ...request }, client.server);
  }
  return renewed.renewal;
}

/** Checks at start and every `checkIntervalMs` while this replica leads and serves the self-signed root. */
export function watchRootSecretRenewal(opts: {
  client: KubeClient;
  namespace: string;
  settings: SecretRootRenewalSettings;
  /** True while this replica leads and the CA in service signs with the self-signed root. */
  due: () => boolean;
  onRenewed: (renewal: RootRenewal) => void;
  log: Logger;
}): { check(): Promise<void>; stop(): void } {
  const { log } = opts;
  let checking: Promise<void> | undefined;
  const check = (): Promise<void> => {
    if (!opts.due()) return Promise.resolve();
    checking ??= (async () => {
      try {
        const renewal = await renewRootSecretIfDue({ ...opts, policy: opts.settings });
        if (!renewal) return;
        log.info('self-signed root renewed with its key: old and new roots are both in the trust bundle', {
          event: 'root-renewed',
          secret: `${opts.namespace}/${SELF_SIGNED_CA_SECRET}`,
          previousSerial: renewal.previousSerial,
          previousNotAfter: renewal.previousNotAfter.toISOString(),
          serial: renewal.serial,
          notAfter: renewal.notAfter.toISOString(),
          roots: renewal.roots,
        });
        opts.onRenewed(renewal);
      } catch (err) {
        log.error('self-signed root renewal failed; trying again at the next check', {
          event: 'root-renewal-failed',
          reason: (err as Error).message,
        });
      }
    })().finally(() => {
      checking = undefined;
    });
    return checking;
  };
  const timer = setInterval(() => void check(), opts.settings.checkIntervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
