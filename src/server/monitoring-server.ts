// The monitoring port: Prometheus /metrics, /healthz (the process is up) and /readyz (the CA can
// sign now), like istiod's port 15014.
import {
  type MetricsServer,
  type MetricsServerLimits,
  type MetricsServerOptions,
  type MetricsSource,
  startMetricsServer,
} from '../http/metrics-server.js';

/** Whether the CA can sign now: what /readyz answers. */
export interface Readiness {
  ok: boolean;
  reason?: string;
}

export function startMonitoringServer(opts: {
  host: string;
  port: number;
  registry: MetricsSource;
  ready: () => Readiness | Promise<Readiness>;
  /** Connection bounds; the defaults suit a Prometheus scraper (tests shorten them). */
  limits?: Partial<MetricsServerLimits>;
  /** The dashboard at /ui, when it is on. */
  pages?: MetricsServerOptions['pages'];
}): Promise<MetricsServer> {
  return startMetricsServer({
    host: opts.host,
    port: opts.port,
    registry: opts.registry,
    routes: {
      '/healthz': () => ({ status: 200, text: 'ok' }),
      '/readyz': async () => {
        const state = await opts.ready();
        return state.ok
          ? { status: 200, text: 'ready' }
          : { status: 503, text: `not ready: ${state.reason}` };
      },
    },
    notFound: `not found: try /metrics, /healthz or /readyz${opts.pages ? `, or ${opts.pages.prefix} for the dashboard` : ''}`,
    limits: opts.limits,
    pages: opts.pages,
  });
}
