// The agent's Prometheus metrics under Istio's names (istio_agent_*), so the dashboards and alerts
// written for pilot-agent work unchanged. One registry per agent: several can live in one process.
import { Counter, Gauge, Registry } from 'prom-client';

export interface AgentMetrics {
  registry: Registry;
  /** CSRs sent to the CA. */
  requests: Counter<'request_type'>;
  /** CSRs the CA refused or that never got an answer. */
  failures: Counter<'request_type'>;
  /** CSRs sent again after a failure. */
  retries: Counter<'request_type'>;
}

/** Istio's label value for certificate signing requests. */
export const CSR_REQUEST_TYPE = { request_type: 'csr' } as const;

export function createAgentMetrics(opts: {
  /** Expiry of the certificate in place now, if any. */
  certificateExpiry: () => Date | undefined;
  now: () => Date;
}): AgentMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'istio_agent_cert_expiry_seconds',
    help: 'Seconds until the workload certificate in place expires (negative once expired, 0 before the first).',
    registers: [registry],
    collect() {
      const expiry = opts.certificateExpiry();
      this.set(expiry ? (expiry.getTime() - opts.now().getTime()) / 1000 : 0);
    },
  });
  const counter = (name: string, help: string) => {
    const c = new Counter({ name, help, labelNames: ['request_type'], registers: [registry] });
    // Present from the start with 0, so a rate() over a fresh agent is not "no data".
    c.inc(CSR_REQUEST_TYPE, 0);
    return c;
  };
  return {
    registry,
    requests: counter('istio_agent_num_outgoing_requests', 'Requests sent to the CA.'),
    failures: counter(
      'istio_agent_num_failed_outgoing_requests',
      'Requests to the CA that failed (refused, unreachable, timed out).',
    ),
    retries: counter('istio_agent_num_outgoing_retries', 'Requests to the CA sent again after a failure.'),
  };
}
