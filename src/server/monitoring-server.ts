// The monitoring port: Prometheus /metrics, /healthz (the process is up) and /readyz (the CA can
// sign now), like istiod's port 15014.
import type { Registry } from 'prom-client';
import { type MetricsServer, startMetricsServer } from '../http/metrics-server.js';

export function startMonitoringServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => { ok: boolean; reason?: string };
}): Promise<MetricsServer> {
  return startMetricsServer({
    host: opts.host,
    port: opts.port,
    registry: opts.registry,
    routes: {
      '/healthz': () => ({ status: 200, text: 'ok' }),
      '/readyz': () => {
        const state = opts.ready();
        return state.ok
          ? { status: 200, text: 'ready' }
          : { status: 503, text: `not ready: ${state.reason}` };
      },
    },
    notFound: 'not found: try /metrics, /healthz or /readyz',
  });
}
