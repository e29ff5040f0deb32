// Leader election with a coordination.k8s.io Lease, as client-go does it: the holder renews the
// lease; another replica takes it over only after it has seen the same renewTime unchanged for a
// whole lease duration, measured on its own clock (so clocks need not agree). Every replica issues
// certificates; only the leader does singleton work (writing ConfigMaps into every namespace).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { isConflict, isNotFound, kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';

export const LEADER_LEASE = 'meshca-leader';

export interface LeaderLeaseOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name (default meshca-leader). */
  name?: string;
  /** This replica's name in the Lease (default: pod/host name plus a random suffix). */
  identity?: string;
  /** How long a lease holds without renewal (default 15 s; Kubernetes' controllers use 15 s). */
  durationMs?: number;
  log: Logger;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export interface LeaderLease {
  readonly identity: string;
  isLeader(): boolean;
  /** Stops renewing; a leader releases the lease so another replica takes over at once. */
  close(): Promise<void>;
}

/**
 * A Lease's times are MicroTime: the API server wants six fractional digits, which Date's
 * toISOString (three) does not give. (client-node has the same class; it is loaded lazily.)
 */
class MicroTime extends Date {
  override toISOString(): string {
    return `${super.toISOString().slice(0, -1)}000Z`;
  }
}
const microTime = (at: number | Date | undefined) => new MicroTime(at ?? Date.now());

export function startLeaderLease(opts: LeaderLeaseOptions): LeaderLease {
  const { client, namespace, log } = opts;
  const name = opts.name ?? LEADER_LEASE;
  const identity = opts.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
  const durationMs = opts.durationMs ?? 15_000;
  const retryMs = Math.max(200, Math.floor(durationMs / 5));
  const request = { resource: 'leases.coordination.k8s.io', namespace, name } as const;
  let leading = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  /** The other holder's last renewTime we saw, and when (our clock) we first saw it. */
  let observed: { key: string; atMs: number } | undefined;
  let lastError: string | undefined;
  /** When this replica last wrote the lease as its holder. */
  let renewedAtMs = 0;

  const spec = (now: number, acquire: boolean, previous?: V1Lease['spec']) => ({
    holderIdentity: identity,
    leaseDurationSeconds: Math.max(1, Math.ceil(durationMs / 1000)),
    acquireTime: microTime(acquire ? now : (previous?.acquireTime ?? now)),
    renewTime: microTime(now),
    leaseTransitions: (previous?.leaseTransitions ?? 0) + (acquire && previous ? 1 : 0),
  });

  const setLeading = (next: boolean) => {
    if (next === leading) return;
    leading = next;
    if (next) {
      log.info('elected leader: this replica writes the shared objects', {
        event: 'leader-elected',
        identity,
        lease: `${namespace}/${name}`,
      });
      opts.onStartedLeading();
    } else {
      log.warn('no longer the leader', { event: 'leader-lost', identity, lease: `${namespace}/${name}` });
      opts.onStoppedLeading();
    }
  };

  const tryAcquireOrRenew = async (): Promise<void> => {
    const now = Date.now();
    let lease: V1Lease | undefined;
    try {
      lease = await client.coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw kubeApiError(err, { ...request, verb: 'get' }, client.server);
    }
    if (!lease) {
      try {
        await client.coordination.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: spec(now, true) },
        });
        renewedAtMs = now;
        setLeading(true);
      } catch (err) {
        if (!isConflict(err)) throw kubeApiError(err, { ...request, verb: 'create' }, client.server);
      }
      return;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const renewed = String(lease.spec?.renewTime ?? '');
    const key = `${holder}|${renewed}`;
    if (observed?.key !== key) observed = { key, atMs: now };
    const heldMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const mine = holder === identity;
    const free = holder === '' || now - observed.atMs > heldMs;
    if (!mine && !free) {
      setLeading(false);
      return;
    }
    try {
      await client.coordination.replaceNamespacedLease({
        name,
        namespace,
        // resourceVersion makes this a compare-and-swap: of two replicas taking over, one wins.
        body: { ...lease, spec: spec(now, !mine, lease.spec) },
      });
      renewedAtMs = now;
      setLeading(true);
    } catch (err) {
      if (isConflict(err)) {
        setLeading(false);
        return;
      }
      throw kubeApiError(err, { ...request, verb: 'update' }, client.server);
    }
  };

  const loop = async () => {
    try {
      await tryAcquireOrRenew();
      if (lastError) log.info('leader election works again', { event: 'leader-election-recovered' });
      lastError = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== lastError)
        log.warn('leader election failed; retrying', { event: 'leader-election-failed', reason: message });
      lastError = message;
      // A leader that cannot renew stops acting well before another replica may take over.
      if (leading && Date.now() - renewedAtMs > (durationMs * 2) / 3) setLeading(false);
    }
    if (!closed) timer = setTimeout(() => void loop(), leading ? Math.floor(durationMs / 3) : retryMs);
  };
  void loop();

  return {
    identity,
    isLeader: () => leading,
    async close() {
      closed = true;
      clearTimeout(timer);
      if (!leading) return;
      setLeading(false);
      try {
        const lease = await client.coordination.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity === identity) {
          await client.coordination.replaceNamespacedLease({
            name,
            namespace,
            body: {
              ...lease,
              spec: {
                ...lease.spec,
                holderIdentity: '',
                leaseDurationSeconds: 1,
                acquireTime: microTime(lease.spec.acquireTime),
                renewTime: microTime(lease.spec.renewTime),
              },
            },
          });
        }
      } catch {
        // Best effort: the lease expires on its own.
      }
    },
  };
}
