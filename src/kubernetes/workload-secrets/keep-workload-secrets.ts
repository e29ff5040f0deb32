// Citadel's job in Istio ≤ 1.0 (`serve --workload-secrets`): while leading, keep a Secret
// `istio.<sa>` for every ServiceAccount outside the excluded namespaces, re-create it when deleted,
// renew it at half its life and re-issue every one after a CA change. It reconciles from the whole
// current state (all ServiceAccounts, all istio.io/key-and-cert Secrets), writes at a capped rate,
// and never overwrites a Secret of that name it did not make (it says so once, in a log line and an
// Event).
import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { SigningBundle } from '../../ca/signing-bundle.js';
import { configError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isConflict, isNotFound, kubeApiError } from '../kube-api-error.js';
import type { KubeClient } from '../kube-client.js';
import { onePassAtATime } from '../one-pass-at-a-time.js';
import { recordWarningEvent } from '../record-event.js';
import { type ObjectsWatch, watchObjects } from '../watch-objects.js';
import {
  isMeshcasSecret,
  issueWorkloadSecret,
  renewalDue,
  WORKLOAD_SECRET_TYPE,
  workloadSecretName,
} from './workload-secret.js';
import { type WriteRateLimit, writeRateLimit } from './write-rate-limit.js';

export interface WorkloadSecretsOptions {
  client: KubeClient;
  trustDomain: string;
  /** The certificates' lifetime (DEFAULT_WORKLOAD_CERT_TTL). */
  ttlSeconds: number;
  /** Namespaces whose service accounts get no Secret. */
  excludeNamespaces: readonly string[];
  /** At most this many Secret writes per second (creates and updates together). */
  writesPerSecond: number;
  log: Logger;
  retryMs?: { min: number; max: number };
}

export interface WorkloadSecrets {
  /** The bundle in service; a new one re-issues every Secret (CA change). */
  setBundle(bundle: SigningBundle): void;
  /** Starts (leader) or stops (not leader) watching and writing. */
  setActive(active: boolean): void;
  close(): void;
}

const SECRET_FIELD_SELECTOR = `type=${WORKLOAD_SECRET_TYPE}`;
/** Renewal timers further out than this are re-armed later (setTimeout's limit is ~24.8 days). */
const MAX_TIMER_MS = 24 * 3600 * 1000;

export function keepWorkloadSecrets(opts: WorkloadSecretsOptions): WorkloadSecrets {
  const { client, log } = opts;
  const excluded = new Set(opts.excludeNamespaces);
  let bundle: SigningBundle | undefined;
  let accounts: ReadonlyMap<string, V1ServiceAccount> = new Map();
  let secrets: ReadonlyMap<string, V1Secret> = new Map();
  let watches: ObjectsWatch[] = [];
  let synced = { accounts: false, secrets: false };
  let timer: NodeJS.Timeout | undefined;
  let limit: WriteRateLimit | undefined;
  /** Secrets not ours that were reported (by uid, or namespace/name when unseen), to say so once. */
  const reported = new Set<string>();

  const reportForeign = (namespace: string, name: string, uid: string | undefined) => {
    const key = uid ?? `${namespace}/${name}`;
    if (reported.has(key)) return;
    reported.add(key);
    const error = configError(
      'KUBE_WORKLOAD_SECRET_NOT_OURS',
      `Secret ${namespace}/${name} exists and was not made by meshca (no app.kubernetes.io/managed-by=meshca label); meshca leaves it alone. Delete it to let meshca keep it`,
    );
    log.warn(error.message, { event: 'workload-secret-not-ours', code: error.code, namespace, name });
    void recordWarningEvent(
      client,
      { kind: 'Secret', namespace, name, uid },
      { reason: 'WorkloadSecretNotOurs', message: error.message },
      log,
    );
  };

  const write = async (account: V1ServiceAccount, existing: V1Secret | undefined, current: SigningBundle) => {
    const namespace = account.metadata!.namespace!;
    const name = workloadSecretName(account.metadata!.name!);
    const verb = existing ? 'update' : 'create';
    if (!(await limit?.take())) return;
    const body = await issueWorkloadSecret({
      account,
      bundle: current,
      trustDomain: opts.trustDomain,
      ttlSeconds: opts.ttlSeconds,
      existing,
    });
    try {
      if (existing) await client.core.replaceNamespacedSecret({ name, namespace, body });
      else await client.core.createNamespacedSecret({ namespace, body });
      log.info(`${verb === 'create' ? 'created' : 'renewed'} ${namespace}/${name}`, {
        event: 'workload-secret-written',
        namespace,
        name,
        verb,
      });
    } catch (err) {
      if (!existing && isConflict(err)) {
        // Already there but not among the istio.io/key-and-cert Secrets we watch: someone else's,
        // unless our own create has not reached the watch yet.
        const there = await client.core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
        if (there && !isMeshcasSecret(there)) reportForeign(namespace, name, there.metadata?.uid);
        return;
      }
      if (isConflict(err) || isNotFound(err)) return; // the watch brings the new state, and another pass
      const error = kubeApiError(err, { verb, resource: 'secrets', namespace, name }, client.server);
      log.warn(`cannot write ${namespace}/${name}; retrying on the next change`, {
        event: 'workload-secret-failed',
        namespace,
        name,
        code: error.code,
        reason: error.message,
      });
    }
  };

  const pass = async () => {
    const current = bundle;
    if (!current || !synced.accounts || !synced.secrets) return;
    let next = Number.POSITIVE_INFINITY;
    for (const account of accounts.values()) {
      if (watches.length === 0 || bundle !== current) return;
      const namespace = account.metadata?.namespace ?? '';
      if (excluded.has(namespace) || !account.metadata?.name) continue;
      const name = workloadSecretName(account.metadata.name);
      const existing = secrets.get(`${namespace}/${name}`);
      if (existing && !isMeshcasSecret(existing)) {
        reportForeign(namespace, name, existing.metadata?.uid);
        continue;
      }
      const due = existing ? renewalDue(existing, current).getTime() : 0;
      if (due <= Date.now()) await write(account, existing, current);
      else next = Math.min(next, due);
    }
    clearTimeout(timer);
    if (Number.isFinite(next)) {
      timer = setTimeout(reconcile, Math.min(MAX_TIMER_MS, Math.max(0, next - Date.now())));
      timer.unref();
    }
  };

  const reconcile = onePassAtATime(pass, () => watches.length > 0);

  const start = () => {
    limit = writeRateLimit(opts.writesPerSecond);
    synced = { accounts: false, secrets: false };
    const failed = (what: string) => (err: Error) =>
      log.error(`cannot watch ${what} for the istio.<serviceaccount> Secrets; retrying`, {
        event: 'workload-secrets-watch-failed',
        reason: err.message,
      });
    const accountWatch = watchObjects<V1ServiceAccount>({
      client,
      path: '/api/v1/serviceaccounts',
      list: () => client.core.listServiceAccountForAllNamespaces(),
      request: { resource: 'serviceaccounts' },
      log,
      retryMs: opts.retryMs,
      onChange(objects) {
        accounts = new Map(objects);
        synced.accounts = true;
        reconcile();
      },
    });
    const secretWatch = watchObjects<V1Secret>({
      client,
      path: '/api/v1/secrets',
      fieldSelector: SECRET_FIELD_SELECTOR,
      list: () => client.core.listSecretForAllNamespaces({ fieldSelector: SECRET_FIELD_SELECTOR }),
      request: { resource: 'secrets' },
      log,
      retryMs: opts.retryMs,
      onChange(objects) {
        secrets = new Map(objects);
        synced.secrets = true;
        reconcile();
      },
    });
    accountWatch.synced.catch(failed('service accounts'));
    secretWatch.synced.catch(failed('Secrets'));
    watches = [accountWatch, secretWatch];
  };

  const stop = () => {
    for (const w of watches) w.close();
    watches = [];
    clearTimeout(timer);
    limit?.close();
    limit = undefined;
    reported.clear();
  };

  return {
    setBundle(next) {
      bundle = next;
      reconcile();
    },
    setActive(active) {
      if (active && watches.length === 0) start();
      if (!active) stop();
    },
    close: stop,
  };
}
