// Keeps an up-to-date view of a set of Kubernetes objects: list, then watch from the list's
// resourceVersion; when the watch ends (API server restart, timeout, 410 Gone) list again after a
// bounded backoff. Consumers get the whole current set each time, so they reconcile from state
// and a missed event can never leave them behind.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { type KubeRequest, kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export interface WatchObjectsOptions<T extends KubernetesObject> {
  client: KubeClient;
  /** The collection's URL path, e.g. /api/v1/namespaces/istio-system/secrets. */
  path: string;
  /** e.g. "metadata.name=cacerts": the list and the watch see only these objects. */
  fieldSelector?: string;
  /** e.g. "meshca.io/replica=abc": likewise, by label. */
  labelSelector?: string;
  list(): Promise<ObjectList<T>>;
  /** Called with every object currently there (by namespace/name), after each list and each event. */
  onChange(objects: ReadonlyMap<string, T>): void;
  /** For messages: what is listed, in RBAC terms. */
  request: Omit<KubeRequest, 'verb'>;
  log: Logger;
  /** Backoff bounds after a failed list or an ended watch (tests shorten them). */
  retryMs?: { min: number; max: number };
}

export interface ObjectsWatch {
  /** Resolves after the first successful list; rejects with the mapped error when the first list fails (listing goes on). */
  readonly synced: Promise<void>;
  close(): void;
}

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export function watchObjects<T extends KubernetesObject>(opts: WatchObjectsOptions<T>): ObjectsWatch {
  const { client, log } = opts;
  const minMs = opts.retryMs?.min ?? 500;
  const maxMs = opts.retryMs?.max ?? 30_000;
  const objects = new Map<string, T>();
  let closed = false;
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delayMs = minMs;
  let firstSync: { resolve(): void; reject(err: unknown): void } | undefined;
  const synced = new Promise<void>((resolve, reject) => {
    firstSync = { resolve, reject };
  });
  // A caller that only closes must not see an unhandled rejection.
  synced.catch(() => {});

  const retry = (why: string) => {
    if (closed) return;
    log.debug('Kubernetes watch ended; listing again', {
      event: 'kube-watch-restart',
      path: opts.path,
      why,
      delayMs,
    });
    timer = setTimeout(() => void run(), delayMs);
    delayMs = Math.min(maxMs, delayMs * 2);
  };

  const run = async (): Promise<void> => {
    let list: ObjectList<T>;
    try {
      list = await opts.list();
    } catch (err) {
      const error = kubeApiError(err, { ...opts.request, verb: 'list' }, client.server);
      if (firstSync) {
        firstSync.reject(error);
        firstSync = undefined;
      } else {
        log.warn('cannot list Kubernetes objects; retrying', {
          event: 'kube-list-failed',
          path: opts.path,
          code: error.code,
          reason: error.message,
        });
      }
      retry(error.message);
      return;
    }
    if (closed) return;
    objects.clear();
    for (const item of list.items) objects.set(keyOf(item), item);
    opts.onChange(objects);
    firstSync?.resolve();
    firstSync = undefined;
    // The server ends a watch after timeoutSeconds, so a connection that silently died is noticed.
    const params: Record<string, string | boolean | number> = {
      allowWatchBookmarks: true,
      timeoutSeconds: 240 + Math.floor(Math.random() * 60),
    };
    if (list.metadata?.resourceVersion) params.resourceVersion = list.metadata.resourceVersion;
    if (opts.fieldSelector) params.fieldSelector = opts.fieldSelector;
    if (opts.labelSelector) params.labelSelector = opts.labelSelector;
    let healthy = false;
    abort = await client.watcher.watch(
      opts.path,
      params,
      (type, object: T & { code?: number }) => {
        if (type === 'BOOKMARK') return;
        if (type === 'ERROR') {
          // Usually 410 Gone: the resourceVersion is too old; the next list starts afresh.
          abort?.abort();
          return;
        }
        healthy = true;
        delayMs = minMs;
        if (type === 'DELETED') objects.delete(keyOf(object));
        else objects.set(keyOf(object), object);
        opts.onChange(objects);
      },
      (err: unknown) => {
        if (healthy) delayMs = minMs;
        retry(err ? String((err as Error).message ?? err) : 'closed by the server');
      },
    );
    if (closed) abort.abort();
  };
  void run();
  return {
    synced,
    close() {
      closed = true;
      clearTimeout(timer);
      abort?.abort();
    },
  };
}
