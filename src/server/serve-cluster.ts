// `meshca serve --workers N`: the process becomes a node:cluster primary and forks N workers, each
// running the CA server on the same --listen address (cluster shares the listening socket and hands
// connections to the workers in turn). The primary alone serves the monitoring port, with the
// workers' metrics aggregated and ready = every worker ready; it forwards reloads, drains every
// worker on close, and restarts a worker that dies.

import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { AggregatorRegistry, type Counter, type Registry } from 'prom-client';
import { errorForCode, type MeshcaError, unavailable } from '../errors.js';
import type { MetricsServer } from '../http/metrics-server.js';
import type { Logger } from '../log.js';
import type { HostPort } from './ca-server.js';
import {
  type FromWorker,
  isMeshcaMessage,
  type Question,
  type Reply,
  type ToWorker,
  type WorkerSettings,
} from './cluster-messages.js';
import { clusterDashboardPages } from './dashboard-data.js';
import { createPrimaryMetrics } from './metrics.js';
import { type Readiness, startMonitoringServer } from './monitoring-server.js';

export interface ServeClusterOptions {
  /** How many workers; 2 or more (one worker is plain startCaServer, with no primary). */
  workers: number;
  settings: WorkerSettings;
  /** Served by the primary only; null turns it off. */
  monitoring: HostPort | null;
  log: Logger;
  /** Delay before restarting a worker that died; doubles with each death in a row, up to the max. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

export interface ServeCluster {
  grpcPort: number;
  monitoringPort: number | undefined;
  /** Every serving worker re-reads its CA directory and mesh configuration; true when all succeed. */
  reload(): Promise<boolean>;
  /** Every worker stops accepting and drains (CaServer.close), then the monitoring port closes. */
  close(): Promise<void>;
}

interface Slot {
  worker?: Worker;
  serving: boolean;
  servingSince: number;
  /** Deaths in a row; a worker that served a while starts the count again. */
  deaths: number;
  failure?: MeshcaError;
  restartTimer?: NodeJS.Timeout;
}

const QUESTION_TIMEOUT_MS = 5000;
const RELOAD_TIMEOUT_MS = 120_000;

/** The primary's view of its workers, shared by the steps below. */
interface Cluster {
  readonly settings: WorkerSettings;
  readonly log: Logger;
  readonly restartDelayMs: number;
  readonly maxRestartDelayMs: number;
  readonly slots: Slot[];
  readonly alive: Set<Worker>;
  stopping: boolean;
  started: boolean;
  grpcPort: number | undefined;
  /**
   * What workers pass to bindAsync. Cluster keys the shared socket by address and port as asked, so
   * with port 0 every worker, restarted ones too, asks for port 0 and joins the same socket. Once no
   * worker is left the socket is gone: the next one asks for the port the CA was serving on.
   */
  bindPort: number;
  readonly exitWaiters: (() => void)[];
  startup: { resolve: () => void; reject: (err: MeshcaError) => void } | undefined;
  readonly pending: Map<number, { worker: Worker; resolve: (reply: Reply) => void }>;
  nextId: number;
  readonly registry: Registry;
  readonly restarts: Counter;
}

export async function startServeCluster(opts: ServeClusterOptions): Promise<ServeCluster> {
  // Structured clone over IPC: the mesh configuration holds Maps, which JSON would flatten.
  cluster.setupPrimary({ serialization: 'advanced' });
  const c = newCluster(opts);
  const monitoring = opts.monitoring ? await startClusterMonitoring(c, opts.monitoring) : undefined;
  await startWorkers(c, monitoring);
  const grpcPort = c.grpcPort!;
  c.log.info('meshca CA serving', {
    grpc: `${c.settings.listen.host}:${grpcPort}`,
    monitoring: monitoring ? `${opts.monitoring?.host}:${monitoring.port}` : 'off',
    trustDomain: c.settings.trustDomain,
    workers: opts.workers,
    pid: process.pid,
  });

  let closed: Promise<void> | undefined;
  return {
    grpcPort,
    monitoringPort: monitoring?.port,
    reload: () => reloadWorkers(c),
    close() {
      closed ??= (async () => {
        await stopWorkers(c);
        await monitoring?.close();
      })();
      return closed;
    },
  };
}

function newCluster(opts: ServeClusterOptions): Cluster {
  const { registry, restarts } = createPrimaryMetrics(opts.workers);
  return {
    settings: opts.settings,
    log: opts.log,
    restartDelayMs: opts.restartDelayMs ?? 200,
    maxRestartDelayMs: opts.maxRestartDelayMs ?? 10_000,
    slots: Array.from({ length: opts.workers }, () => ({ serving: false, servingSince: 0, deaths: 0 })),
    alive: new Set(),
    stopping: false,
    started: false,
    grpcPort: undefined,
    bindPort: opts.settings.listen.port,
    exitWaiters: [],
    startup: undefined,
    pending: new Map(),
    nextId: 0,
    registry,
    restarts,
  };
}

/** Sends `worker` a question; resolves with its reply, or a failed one after `timeoutMs` or its exit. */
function askWorker(
  c: Cluster,
  worker: Worker,
  type: Question,
  timeoutMs = QUESTION_TIMEOUT_MS,
): Promise<Reply> {
  const id = c.nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.pending.delete(id);
      resolve({ type: 'meshca:reply', id, ok: false, reason: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    c.pending.set(id, {
      worker,
      resolve: (reply) => {
        clearTimeout(timer);
        c.pending.delete(id);
        resolve(reply);
      },
    });
    worker.send({ type, id } satisfies ToWorker);
  });
}

function servingWorkers(c: Cluster): Worker[] {
  return c.slots.flatMap((s) => (s.serving && s.worker?.isConnected() ? [s.worker] : []));
}

/** Ready = every worker serving and ready itself. */
async function clusterReadiness(c: Cluster): Promise<Readiness> {
  if (c.stopping) return { ok: false, reason: 'shutting down' };
  const serving = servingWorkers(c);
  if (serving.length < c.slots.length)
    return { ok: false, reason: `${serving.length} of ${c.slots.length} workers serving` };
  const answers = await Promise.all(serving.map((w) => askWorker(c, w, 'meshca:readiness')));
  const i = answers.findIndex((a) => !a.ok);
  return i < 0 ? { ok: true } : { ok: false, reason: `worker ${serving[i]!.id}: ${answers[i]!.reason}` };
}

/**
 * AggregatorRegistry.clusterMetrics() would ask every connected worker, one still starting
 * included, and fail the whole scrape when that one cannot answer; asking the serving workers and
 * aggregating their registries (counters and histograms summed) keeps a scrape whole.
 */
async function aggregatedMetrics(c: Cluster): Promise<string> {
  const answers = await Promise.all(servingWorkers(c).map((w) => askWorker(c, w, 'meshca:metrics')));
  const lists = answers.flatMap((a) => (a.ok && a.metrics ? [a.metrics] : []));
  lists.push(await c.registry.getMetricsAsJSON());
  return AggregatorRegistry.aggregate(lists).metrics();
}

/** The primary's monitoring port: the workers' metrics aggregated, ready when every worker is. */
function startClusterMonitoring(c: Cluster, where: HostPort): Promise<MetricsServer> {
  return startMonitoringServer({
    ...where,
    registry: { contentType: c.registry.contentType, metrics: () => aggregatedMetrics(c) },
    ready: () => clusterReadiness(c),
    pages: c.settings.dashboard
      ? clusterDashboardPages(c.settings.dashboard, {
          workers: c.slots.length,
          logDir: c.settings.issuanceLog?.dir,
          dataDir: c.settings.dataDir,
        })
      : undefined,
  }).catch((err: Error) => {
    throw unavailable(
      'SERVER_MONITORING_LISTEN_FAILED',
      `cannot listen on ${where.host}:${where.port} for monitoring: ${err.message}; pick another --monitoring address or "off"`,
      err,
    );
  });
}

/** Forks every worker and waits until all serve; if one cannot, stops the rest and rejects with why. */
async function startWorkers(c: Cluster, monitoring: MetricsServer | undefined): Promise<void> {
  c.log.info('starting workers', { event: 'workers-starting', workers: c.slots.length });
  try {
    await new Promise<void>((resolve, reject) => {
      c.startup = { resolve, reject };
      for (const slot of c.slots) forkWorker(c, slot);
    });
  } catch (err) {
    await stopWorkers(c, 10_000);
    await monitoring?.close();
    throw err;
  }
  c.started = true;
}

/**
 * Each worker writes its own issuance log, `worker-<n>` inside the log directory (n is its slot, so a
 * restarted worker carries on its predecessor's chain): one writer per chain, no lock between workers.
 */
function workerLog(c: Cluster, slot: Slot): WorkerSettings['issuanceLog'] {
  const logSettings = c.settings.issuanceLog;
  return logSettings && { ...logSettings, dir: join(logSettings.dir, `worker-${c.slots.indexOf(slot) + 1}`) };
}

/** Forks a worker into `slot` and follows what it says until it exits. */
function forkWorker(c: Cluster, slot: Slot): void {
  if (c.alive.size === 0 && c.grpcPort !== undefined) c.bindPort = c.grpcPort;
  const listen = { ...c.settings.listen, port: c.bindPort };
  const worker = cluster.fork();
  c.alive.add(worker);
  slot.worker = worker;
  slot.serving = false;
  slot.failure = undefined;
  worker.on('message', (message: unknown) => {
    if (!isMeshcaMessage<FromWorker>(message)) return;
    switch (message.type) {
      case 'meshca:hello':
        worker.send({
          type: 'meshca:start',
          settings: {
            ...c.settings,
            listen,
            issuanceLog: workerLog(c, slot),
            issuanceRecordsWriter: `worker-${c.slots.indexOf(slot) + 1}`,
          },
        } satisfies ToWorker);
        return;
      case 'meshca:listening':
        return onWorkerServing(c, slot, worker, message.grpcPort);
      case 'meshca:failed':
        slot.failure = errorForCode(message.error.code, message.error.message);
        return;
      case 'meshca:reply': {
        const waiter = c.pending.get(message.id);
        if (waiter?.worker === worker) waiter.resolve(message);
        return;
      }
    }
  });
  worker.once('exit', (code, signal) => onWorkerExit(c, slot, worker, code, signal));
  // A message to a worker whose channel just closed fails with an 'error' event; its exit follows.
  worker.on('error', (err: Error) =>
    c.log.warn('cannot reach a worker', {
      event: 'worker-unreachable',
      worker: worker.id,
      reason: err.message,
    }),
  );
}

function onWorkerServing(c: Cluster, slot: Slot, worker: Worker, port: number): void {
  if (c.grpcPort !== undefined && port !== c.grpcPort) {
    // Cannot happen with cluster's shared socket; a worker elsewhere would be unreachable.
    c.log.error('a worker listens on another port than the others; stopping it', {
      event: 'worker-port-mismatch',
      worker: worker.id,
      port,
      expected: c.grpcPort,
    });
    worker.kill('SIGTERM');
    return;
  }
  c.grpcPort = port;
  slot.serving = true;
  slot.servingSince = Date.now();
  if (c.started) c.log.info('worker restarted', { event: 'worker-restarted', worker: worker.id });
  else if (c.slots.every((s) => s.serving)) c.startup?.resolve();
}

/** Fails the worker's pending questions; before startup fails the start, after it restarts the worker. */
function onWorkerExit(
  c: Cluster,
  slot: Slot,
  worker: Worker,
  code: number | null,
  signal: string | null,
): void {
  c.alive.delete(worker);
  if (slot.worker === worker) {
    slot.worker = undefined;
    slot.serving = false;
  }
  for (const [id, waiter] of c.pending)
    if (waiter.worker === worker)
      waiter.resolve({ type: 'meshca:reply', id, ok: false, reason: 'the worker exited' });
  if (c.alive.size === 0) for (const wake of c.exitWaiters.splice(0)) wake();
  if (c.stopping) return;
  if (!c.started) {
    c.startup?.reject(
      slot.failure ??
        unavailable(
          'SERVER_WORKER_EXITED',
          `worker ${worker.id} exited (${code ?? signal}) before serving; its log lines above say why`,
        ),
    );
    return;
  }
  restartWorkerLater(c, slot, { worker: worker.id, pid: worker.process.pid, code, signal });
}

/**
 * Restarts a worker that died while serving, after a delay that doubles with each death in a row;
 * `exited` says which and how, for the log.
 */
function restartWorkerLater(c: Cluster, slot: Slot, exited: Record<string, unknown>): void {
  if (Date.now() - slot.servingSince > 60_000) slot.deaths = 0;
  slot.deaths++;
  const delay = Math.min(c.restartDelayMs * 2 ** (slot.deaths - 1), c.maxRestartDelayMs);
  c.log.error('worker exited unexpectedly; restarting it', {
    event: 'worker-exited',
    ...exited,
    reason: slot.failure?.message,
    restartInMs: delay,
  });
  c.restarts.inc();
  slot.restartTimer = setTimeout(() => {
    slot.restartTimer = undefined;
    if (!c.stopping) forkWorker(c, slot);
  }, delay);
}

/** Every serving worker re-reads its CA directory and mesh configuration; true when all succeed. */
async function reloadWorkers(c: Cluster): Promise<boolean> {
  const answers = await Promise.all(
    servingWorkers(c).map((w) => askWorker(c, w, 'meshca:reload', RELOAD_TIMEOUT_MS)),
  );
  return answers.every((a) => a.ok);
}

/** Asks every worker to drain; `killAfterMs` bounds the wait (a failed start has nothing to drain). */
async function stopWorkers(c: Cluster, killAfterMs?: number): Promise<void> {
  c.stopping = true;
  for (const slot of c.slots) clearTimeout(slot.restartTimer);
  const gone = new Promise<void>((resolve) => (c.alive.size === 0 ? resolve() : c.exitWaiters.push(resolve)));
  for (const worker of c.alive)
    if (worker.isConnected()) worker.send({ type: 'meshca:stop' } satisfies ToWorker);
    else worker.kill('SIGTERM');
  const killer =
    killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          for (const worker of c.alive) worker.kill('SIGKILL');
        }, killAfterMs);
  await gone;
  clearTimeout(killer);
}
