// The agent's status port, like pilot-agent's 15020: /healthz says whether a valid workload
// certificate is in place, /metrics serves the agent's Prometheus registry.
import type { Registry } from 'prom-client';
import { unavailable } from '../errors.js';
import { type MetricsServer, startMetricsServer, type TextReply } from '../http/metrics-server.js';

export type StatusServer = MetricsServer;

export async function startStatusServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  health: () => { ok: boolean; detail: string };
}): Promise<StatusServer> {
  const health = (): TextReply => {
    const state = opts.health();
    return { status: state.ok ? 200 : 503, text: state.detail };
  };
  try {
    return await startMetricsServer({
      host: opts.host,
      port: opts.port,
      registry: opts.registry,
      routes: { '/healthz': health, '/healthz/ready': health },
      notFound: 'not found: try /healthz or /metrics',
    });
  } catch (err) {
    throw unavailable(
      'AGENT_STATUS_LISTEN_FAILED',
      `cannot listen on ${opts.host}:${opts.port} for the status port (${(err as Error).message}); pick another --status-port, or "off"`,
      err,
    );
  }
}
