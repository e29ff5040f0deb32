// Istio's trust-bundle distribution: an `istio-ca-root-cert` ConfigMap (key root-cert.pem) in every
// namespace, created for new namespaces and updated when the roots change. Only the leader writes;
// it reconciles from the whole current state (all namespaces, all such ConfigMaps), so a missed
// event, a restart or a hand-edited ConfigMap is put right on the next pass.
import type { V1ConfigMap, V1Namespace } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { isConflict, isNotFound, kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';
import { type ObjectsWatch, watchObjects } from './watch-objects.js';

export const ROOT_CONFIGMAP = 'istio-ca-root-cert';
export const ROOT_CONFIGMAP_KEY = 'root-cert.pem';
/** Namespaces Istio leaves alone. */
const SKIPPED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

export interface RootConfigMaps {
  /** The trust bundle to publish (every root, PEM). */
  setRoots(rootsPem: string): void;
  /** Starts (leader) or stops (not leader) writing. */
  setActive(active: boolean): void;
  /** Resolves once every namespace seen holds the current roots (tests and readiness). */
  settled(): Promise<void>;
  close(): void;
}

export function publishRootConfigMaps(opts: {
  client: KubeClient;
  log: Logger;
  retryMs?: { min: number; max: number };
}): RootConfigMaps {
  const { client, log } = opts;
  let roots: string | undefined;
  let namespaces: ReadonlyMap<string, V1Namespace> = new Map();
  let configMaps: ReadonlyMap<string, V1ConfigMap> = new Map();
  let watches: ObjectsWatch[] = [];
  let running: Promise<void> | undefined;
  let dirty = false;
  let waiters: Array<() => void> = [];
  // A write the API server refused (not a conflict): retried after a growing delay, not at once, so
  // an API server that keeps failing is not hammered by a tight loop of passes.
  let failedWrites = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  const retryBounds = opts.retryMs ?? { min: 1000, max: 30_000 };

  const writeOne = async (namespace: string, existing: V1ConfigMap | undefined, pem: string) => {
    const body: V1ConfigMap = {
      ...(existing ?? {}),
      metadata: {
        ...(existing?.metadata ?? { name: ROOT_CONFIGMAP, namespace }),
        labels: { ...(existing?.metadata?.labels ?? {}), 'istio.io/config': 'true' },
      },
      data: { ...(existing?.data ?? {}), [ROOT_CONFIGMAP_KEY]: pem },
    };
    const verb = existing ? 'update' : 'create';
    try {
      if (existing) await client.core.replaceNamespacedConfigMap({ name: ROOT_CONFIGMAP, namespace, body });
      else await client.core.createNamespacedConfigMap({ namespace, body });
      log.info(`${verb === 'create' ? 'created' : 'updated'} ${namespace}/${ROOT_CONFIGMAP}`, {
        event: 'root-configmap-written',
        namespace,
        verb,
      });
    } catch (err) {
      // A conflict or a namespace that went away: the watch brings the new state and another pass.
      if (isConflict(err) || isNotFound(err)) return;
      const error = kubeApiError(
        err,
        { verb, resource: 'configmaps', namespace, name: ROOT_CONFIGMAP },
        client.server,
      );
      log.warn(`cannot write ${namespace}/${ROOT_CONFIGMAP}; retrying shortly`, {
        event: 'root-configmap-failed',
        namespace,
        code: error.code,
        reason: error.message,
      });
      passFailed = true;
    }
  };

  let passFailed = false;
  const pass = async () => {
    const pem = roots;
    if (pem === undefined) return;
    for (const [, ns] of namespaces) {
      const name = ns.metadata?.name;
      if (!name || SKIPPED_NAMESPACES.has(name) || ns.status?.phase === 'Terminating') continue;
      const existing = configMaps.get(`${name}/${ROOT_CONFIGMAP}`);
      if (existing?.data?.[ROOT_CONFIGMAP_KEY] === pem) continue;
      await writeOne(name, existing, pem);
    }
  };

  const isSettled = () =>
    roots !== undefined &&
    [...namespaces.values()].every((ns) => {
      const name = ns.metadata?.name ?? '';
      if (SKIPPED_NAMESPACES.has(name) || ns.status?.phase === 'Terminating') return true;
      return configMaps.get(`${name}/${ROOT_CONFIGMAP}`)?.data?.[ROOT_CONFIGMAP_KEY] === roots;
    });

  const reconcile = () => {
    if (watches.length === 0) return;
    if (running) {
      dirty = true;
      return;
    }
    running = (async () => {
      passFailed = false;
      do {
        dirty = false;
        await pass();
      } while (dirty && watches.length > 0);
    })().finally(() => {
      running = undefined;
      if (!passFailed) {
        failedWrites = 0;
        return;
      }
      failedWrites++;
      const delay = Math.min(retryBounds.max, retryBounds.min * 2 ** Math.min(failedWrites - 1, 16));
      clearTimeout(retryTimer);
      retryTimer = setTimeout(reconcile, delay);
      retryTimer.unref();
    });
  };

  const notify = () => {
    if (!isSettled()) return;
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  };

  const start = () => {
    const retryMs = opts.retryMs;
    watches = [
      watchObjects<V1Namespace>({
        client,
        path: '/api/v1/namespaces',
        list: () => client.core.listNamespace(),
        request: { resource: 'namespaces' },
        log,
        retryMs,
        onChange(objects) {
          namespaces = new Map(objects);
          reconcile();
          notify();
        },
      }),
      watchObjects<V1ConfigMap>({
        client,
        path: '/api/v1/configmaps',
        fieldSelector: `metadata.name=${ROOT_CONFIGMAP}`,
        list: () =>
          client.core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.name=${ROOT_CONFIGMAP}` }),
        request: { resource: 'configmaps' },
        log,
        retryMs,
        onChange(objects) {
          configMaps = new Map(objects);
          reconcile();
          notify();
        },
      }),
    ];
    for (const w of watches)
      w.synced.catch((err: Error) =>
        log.error('cannot watch for istio-ca-root-cert; retrying', {
          event: 'root-configmap-watch-failed',
          reason: err.message,
        }),
      );
  };

  return {
    setRoots(pem) {
      roots = pem;
      reconcile();
    },
    setActive(active) {
      if (active && watches.length === 0) start();
      if (!active) {
        clearTimeout(retryTimer);
        for (const w of watches) w.close();
        watches = [];
      }
    },
    settled: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        notify();
      }),
    close() {
      clearTimeout(retryTimer);
      for (const w of watches) w.close();
      watches = [];
    },
  };
}
