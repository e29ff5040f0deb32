// `meshca serve --workers N`: the process becomes a node:cluster primary and forks N workers, each
// running the CA server on the same --listen address (cluster shares the listening socket and hands
// connections to the workers in turn). The primary alone serves the monitoring port, with the
// workers' metrics aggregated and ready = every worker ready; it forwards reloads, drains every
// worker on close, and restarts a worker that dies.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
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

export async function startServeCluster(opts: ServeClusterOptions): Promise<ServeCluster> {
  const { log, settings } = opts;
  const restartDelayMs = opts.restartDelayMs ?? 200;
  const maxRestartDelayMs = opts.maxRestartDelayMs ?? 10_000;
  // Structured clone over IPC: the mesh configuration holds Maps, which JSON would flatten.
  cluster.setupPrimary({ serialization: 'advanced' });

  const slots: Slot[] = Array.from({ length: opts.workers }, () => ({
    serving: false,
    servingSince: 0,
    deaths: 0,
  }));
  const alive = new Set<Worker>();
  let stopping = false;
  let started = false;
  let grpcPort: number | undefined;
  // What workers pass to bindAsync. Cluster keys the shared socket by address and port as asked, so
  // with port 0 every worker, restarted ones too, asks for port 0 and joins the same socket. Once no
  // worker is left the socket is gone: the next one asks for the port the CA was serving on.
  let bindPort = settings.listen.port;
  const exitWaiters: (() => void)[] = [];
  let startup: { resolve: () => void; reject: (err: MeshcaError) => void } | undefined;

  const pending = new Map<number, { worker: Worker; resolve: (reply: Reply) => void }>();
  let nextId = 0;
  const ask = (worker: Worker, type: Question, timeoutMs = QUESTION_TIMEOUT_MS): Promise<Reply> => {
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve({ type: 'meshca:reply', id, ok: false, reason: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      pending.set(id, {
        worker,
        resolve: (reply) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(reply);
        },
      });
      worker.send({ type, id } satisfies ToWorker);
    });
  };
  const servingWorkers = () => slots.flatMap((s) => (s.serving && s.worker?.isConnected() ? [s.worker] : []));

  const primaryRegistry = new Registry();
  new Gauge({
    name: 'meshca_workers',
    help: 'Workers configured (--workers).',
    registers: [primaryRegistry],
  }).set(opts.workers);
  const restarts = new Counter({
    name: 'meshca_worker_restarts_total',
    help: 'Workers that died unexpectedly and were restarted.',
    registers: [primaryRegistry],
  });
  const readiness = async (): Promise<Readiness> => {
    if (stopping) return { ok: false, reason: 'shutting down' };
    const serving = servingWorkers();
    if (serving.length < slots.length)
      return { ok: false, reason: `${serving.length} of ${slots.length} workers serving` };
    const answers = await Promise.all(serving.map((w) => ask(w, 'meshca:readiness')));
    const i = answers.findIndex((a) => !a.ok);
    return i < 0 ? { ok: true } : { ok: false, reason: `worker ${serving[i]!.id}: ${answers[i]!.reason}` };
  };
  // AggregatorRegistry.clusterMetrics() would ask every connected worker, one still starting
  // included, and fail the whole scrape when that one cannot answer; asking the serving workers and
  // aggregating their registries (counters and histograms summed) keeps a scrape whole.
  const aggregatedMetrics = async (): Promise<string> => {
    const answers = await Promise.all(servingWorkers().map((w) => ask(w, 'meshca:metrics')));
    const lists = answers.flatMap((a) => (a.ok && a.metrics ? [a.metrics] : []));
    lists.push(await primaryRegistry.getMetricsAsJSON());
    return AggregatorRegistry.aggregate(lists).metrics();
  };
  let monitoring: MetricsServer | undefined;
  if (opts.monitoring) {
    const where = `${opts.monitoring.host}:${opts.monitoring.port}`;
    monitoring = await startMonitoringServer({
      ...opts.monitoring,
      registry: { contentType: primaryRegistry.contentType, metrics: aggregatedMetrics },
      ready: readiness,
    }).catch((err: Error) => {
      throw unavailable(
        'SERVER_MONITORING_LISTEN_FAILED',
        `cannot listen on ${where} for monitoring: ${err.message}; pick another --monitoring address or "off"`,
        err,
      );
    });
  }

  const fork = (slot: Slot) => {
    if (alive.size === 0 && grpcPort !== undefined) bindPort = grpcPort;
    const listen = { ...settings.listen, port: bindPort };
    const worker = cluster.fork();
    alive.add(worker);
    slot.worker = worker;
    slot.serving = false;
    slot.failure = undefined;
    worker.on('message', (message: unknown) => {
      if (!isMeshcaMessage<FromWorker>(message)) return;
      switch (message.type) {
        case 'meshca:hello':
          worker.send({ type: 'meshca:start', settings: { ...settings, listen } } satisfies ToWorker);
          return;
        case 'meshca:listening':
          return onServing(slot, worker, message.grpcPort);
        case 'meshca:failed':
          slot.failure = errorForCode(message.error.code, message.error.message);
          return;
        case 'meshca:reply': {
          const waiter = pending.get(message.id);
          if (waiter?.worker === worker) waiter.resolve(message);
          return;
        }
      }
    });
    worker.once('exit', (code, signal) => onExit(slot, worker, code, signal));
    // A message to a worker whose channel just closed fails with an 'error' event; its exit follows.
    worker.on('error', (err: Error) =>
      log.warn('cannot reach a worker', {
        event: 'worker-unreachable',
        worker: worker.id,
        reason: err.message,
      }),
    );
  };

  const onServing = (slot: Slot, worker: Worker, port: number) => {
    if (grpcPort !== undefined && port !== grpcPort) {
      // Cannot happen with cluster's shared socket; a worker elsewhere would be unreachable.
      log.error('a worker listens on another port than the others; stopping it', {
        event: 'worker-port-mismatch',
        worker: worker.id,
        port,
        expected: grpcPort,
      });
      worker.kill('SIGTERM');
      return;
    }
    grpcPort = port;
    slot.serving = true;
    slot.servingSince = Date.now();
    if (started) log.info('worker restarted', { event: 'worker-restarted', worker: worker.id });
    else if (slots.every((s) => s.serving)) startup?.resolve();
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    alive.delete(worker);
    if (slot.worker === worker) {
      slot.worker = undefined;
      slot.serving = false;
    }
    for (const [id, waiter] of pending)
      if (waiter.worker === worker)
        waiter.resolve({ type: 'meshca:reply', id, ok: false, reason: 'the worker exited' });
    if (alive.size === 0) for (const wake of exitWaiters.splice(0)) wake();
    if (stopping) return;
    if (!started) {
      startup?.reject(
        slot.failure ??
          unavailable(
            'SERVER_WORKER_EXITED',
            `worker ${worker.id} exited (${code ?? signal}) before serving; its log lines above say why`,
          ),
      );
      return;
    }
    if (Date.now() - slot.servingSince > 60_000) slot.deaths = 0;
    slot.deaths++;
    const delay = Math.min(restartDelayMs * 2 ** (slot.deaths - 1), maxRestartDelayMs);
    log.error('worker exited unexpectedly; restarting it', {
      event: 'worker-exited',
      worker: worker.id,
      pid: worker.process.pid,
      code,
      signal,
      reason: slot.failure?.message,
      restartInMs: delay,
    });
    restarts.inc();
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!stopping) fork(slot);
    }, delay);
  };

  /** Asks every worker to drain; `killAfterMs` bounds the wait (a failed start has nothing to drain). */
  const stopWorkers = async (killAfterMs?: number) => {
    stopping = true;
    for (const slot of slots) clearTimeout(slot.restartTimer);
    const gone = new Promise<void>((resolve) => (alive.size === 0 ? resolve() : exitWaiters.push(resolve)));
    for (const worker of alive)
      if (worker.isConnected()) worker.send({ type: 'meshca:stop' } satisfies ToWorker);
      else worker.kill('SIGTERM');
    const killer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            for (const worker of alive) worker.kill('SIGKILL');
          }, killAfterMs);
    await gone;
    clearTimeout(killer);
  };

  log.info('starting workers', { event: 'workers-starting', workers: opts.workers });
  try {
    await new Promise<void>((resolve, reject) => {
      startup = { resolve, reject };
      for (const slot of slots) fork(slot);
    });
  } catch (err) {
    await stopWorkers(10_000);
    await monitoring?.close();
    throw err;
  }
  started = true;
  const port = grpcPort!;
  log.info('meshca CA serving', {
    grpc: `${settings.listen.host}:${port}`,
    monitoring: monitoring ? `${opts.monitoring?.host}:${monitoring.port}` : 'off',
    trustDomain: settings.trustDomain,
    workers: opts.workers,
    pid: process.pid,
  });

  let closed: Promise<void> | undefined;
  return {
    grpcPort: port,
    monitoringPort: monitoring?.port,
    async reload() {
      const answers = await Promise.all(
        servingWorkers().map((w) => ask(w, 'meshca:reload', RELOAD_TIMEOUT_MS)),
      );
      return answers.every((a) => a.ok);
    },
    close() {
      closed ??= (async () => {
        await stopWorkers();
        await monitoring?.close();
      })();
      return closed;
    },
  };
}
