// One worker of `meshca serve --workers N`: takes the settings its primary resolved, runs the CA
// server on the shared --listen address without a monitoring port, answers the primary's questions
// (reload, readiness, metrics) and drains when told to stop or when the primary goes away.
import cluster from 'node:cluster';
import { isMeshcaError } from '../errors.js';
import { refreezeClone } from '../lib/deep-freeze.js';
import { createLogger, type Logger } from '../log.js';
import { type CaServer, startCaServer } from './ca-server.js';
import {
  type FromWorker,
  isMeshcaMessage,
  type Reply,
  type ToWorker,
  type WorkerSettings,
} from './cluster-messages.js';

/** True in a process forked by a `meshca serve --workers N` primary. */
export function isServeWorker(): boolean {
  return cluster.isWorker;
}

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function describe(err: unknown): Extract<FromWorker, { type: 'meshca:failed' }>['error'] {
  if (isMeshcaError(err)) return { code: err.code, kind: err.kind, message: err.message };
  return {
    code: 'SERVER_WORKER_CRASHED',
    kind: 'internal',
    message: `a worker failed unexpectedly (a bug; please report it): ${(err as Error)?.stack ?? err}`,
  };
}

/** Runs until stopped; resolves with the worker's exit code. Its own errors go to the primary, not stderr. */
export async function runServeWorker(): Promise<number> {
  const id = cluster.worker?.id ?? 0;
  let log: Logger = createLogger({ component: 'ca' }).child({ worker: id });
  let server: CaServer | undefined;
  let receiveSettings: (settings: WorkerSettings) => void = () => {};
  const settings = new Promise<WorkerSettings>((resolve) => {
    receiveSettings = resolve;
  });
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  const reply = (message: Omit<Reply, 'type'>) => void send({ type: 'meshca:reply', ...message });

  const onMessage = (message: unknown) => {
    if (!isMeshcaMessage<ToWorker>(message)) return;
    switch (message.type) {
      case 'meshca:start':
        receiveSettings(message.settings);
        return;
      case 'meshca:stop':
        requestStop();
        return;
      case 'meshca:reload':
        log.info('SIGHUP (forwarded by the primary): reloading the CA bundle', { event: 'sighup' });
        if (!server) return reply({ id: message.id, ok: false, reason: 'not serving yet' });
        server.reload().then(
          (ok) => reply({ id: message.id, ok }),
          (err: Error) => reply({ id: message.id, ok: false, reason: err.message }),
        );
        return;
      case 'meshca:readiness':
        return reply({ id: message.id, ...(server?.readiness() ?? { ok: false, reason: 'starting' }) });
      case 'meshca:metrics':
        if (!server) return reply({ id: message.id, ok: false, reason: 'not serving yet' });
        server.metricsRegistry.getMetricsAsJSON().then(
          (metrics) => reply({ id: message.id, ok: true, metrics }),
          (err: Error) => reply({ id: message.id, ok: false, reason: err.message }),
        );
        return;
    }
  };
  // The primary owns the signals: a terminal's Ctrl-C or hangup reaches the whole process group,
  // and the primary then tells each worker what to do. A SIGTERM sent to this worker alone drains it.
  const ignore = () => {};
  process.on('message', onMessage);
  process.on('SIGINT', ignore);
  process.on('SIGHUP', ignore);
  process.once('SIGTERM', requestStop);
  process.once('disconnect', requestStop); // the primary is gone: nobody will route work here
  await send({ type: 'meshca:hello' });

  let code = 0;
  const resolved = await Promise.race([settings, stopRequested.then(() => undefined)]);
  if (resolved) {
    log = createLogger({ level: resolved.logLevel, component: 'ca' }).child({ worker: id });
    try {
      server = await startCaServer({
        ...resolved,
        mesh: resolved.mesh && refreezeClone(resolved.mesh),
        monitoring: null,
        log,
        servingMessage: 'worker serving',
      });
    } catch (err) {
      await send({ type: 'meshca:failed', error: describe(err) });
      code = 1;
    }
    if (server) {
      await send({ type: 'meshca:listening', grpcPort: server.grpcPort });
      await stopRequested;
      log.info('draining in-flight requests and stopping', { event: 'shutdown' });
      await server.close();
      log.info('worker stopped', { event: 'stopped' });
    }
  }
  process.off('message', onMessage);
  process.off('SIGINT', ignore);
  process.off('SIGHUP', ignore);
  process.off('SIGTERM', requestStop);
  process.off('disconnect', requestStop);
  if (process.connected) process.disconnect();
  return code;
}
