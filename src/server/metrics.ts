// Prometheus metrics with Istio's names (citadel_server_*), so existing dashboards and alerts work,
// plus meshca's own: every metric of the CA process, a server's and (under `--workers N`) the
// primary's. One registry per server, so several servers can live in one test process.
// Under `--workers N` the primary sums the workers' counters and histograms (prom-client's default
// aggregator); a gauge says how it combines, since adding up expiry times would mean nothing.
// Label values come from configuration only (error codes, configured signer names, UNKNOWN_SIGNER),
// never from what a caller sends, so no caller can grow the registry.
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import type { SigningBundle } from '../ca/signing-bundle.js';

/** The `signer` label of a request whose CertSigner names no signer this CA knows. */
export const UNKNOWN_SIGNER = 'unknown';

// Node's process metrics (CPU, memory, event loop, GC, handles) describe the process, not a server:
// collected once per process and registered on each server's registry, so a process running
// several servers (tests) keeps one set of GC observers and event-loop monitors, not one per server.
let processMetrics: Metric[] | undefined;
function nodeProcessMetrics(): Metric[] {
  if (!processMetrics) {
    const own = new Registry();
    collectDefaultMetrics({ register: own });
    processMetrics = own.getMetricsAsArray().flatMap(({ name }) => own.getSingleMetric(name) ?? []);
  }
  return processMetrics;
}

export interface CaMetrics {
  registry: Registry;
  csrCount: Counter;
  authFailures: Counter;
  /** CSRs that could not be parsed (Istio's citadel_server_csr_parsing_err_count). */
  csrParsingErrors: Counter;
  /** Calls whose credentials name no usable workload identity (citadel_server_id_extraction_err_count). */
  idExtractionErrors: Counter;
  signErrors: Counter<'error' | 'signer'>;
  issued: Counter<'signer'>;
  issuanceSeconds: Histogram;
  reloadFailures: Counter;
  rootRenewals: Counter;
  expiryWarning: Gauge;
  /** Damaged issuance-log tails found at start (each kept aside, with a break entry). */
  issuanceLogDamaged: Counter;
  /** Points the expiry gauges at the bundle now in service. */
  trackBundle(bundle: SigningBundle): void;
  /** Per-signer root expiry (RA mode): signer name → the notAfter of its earliest root. */
  trackSignerRoots(roots: ReadonlyMap<string, Date>): void;
}

export function createCaMetrics(): CaMetrics {
  const registry = new Registry();
  for (const metric of nodeProcessMetrics()) registry.registerMetric(metric);
  let bundle: SigningBundle | undefined;
  const earliest = (certs: readonly { notAfter: Date }[]) =>
    Math.min(...certs.map((c) => c.notAfter.getTime())) / 1000;
  const rootExpiry = () => (bundle ? earliest(bundle.roots) : 0);
  const chainExpiry = () => (bundle ? earliest([bundle.issuer.certificate, ...bundle.chain]) : 0);
  // The earliest expiry any worker sees: during a reload one worker may still serve the old bundle.
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      aggregator: 'min',
      collect() {
        this.set(value());
      },
    });
  gauge(
    'citadel_server_root_cert_expiry_timestamp',
    'Unix time (s) when the earliest root in the trust bundle expires.',
    rootExpiry,
  );
  gauge(
    'citadel_server_root_cert_expiry_seconds',
    'Seconds until the earliest root in the trust bundle expires.',
    () => rootExpiry() - Date.now() / 1000,
  );
  gauge(
    'citadel_server_cert_chain_expiry_timestamp',
    'Unix time (s) when the earliest certificate of the signing chain expires.',
    chainExpiry,
  );
  gauge(
    'citadel_server_cert_chain_expiry_seconds',
    'Seconds until the earliest certificate of the signing chain expires.',
    () => chainExpiry() - Date.now() / 1000,
  );
  let signerRoots: ReadonlyMap<string, Date> = new Map();
  new Gauge({
    name: 'meshca_signer_root_cert_expiry_timestamp',
    help: 'Unix time (s) when the earliest root that meshConfig.caCertificates lists for a signer expires.',
    labelNames: ['signer'],
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.reset();
      for (const [signer, notAfter] of signerRoots) this.set({ signer }, notAfter.getTime() / 1000);
    },
  });
  const expiryWarning = new Gauge({
    name: 'meshca_ca_expiry_warning',
    help: '1 when the signing certificate expires within 30 days, else 0.',
    registers: [registry],
    aggregator: 'max',
  });
  return {
    registry,
    csrCount: new Counter({
      name: 'citadel_server_csr_count',
      help: 'CSRs received.',
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'citadel_server_authentication_failure_count',
      help: 'Requests refused because the caller could not be authenticated.',
      registers: [registry],
    }),
    csrParsingErrors: new Counter({
      name: 'citadel_server_csr_parsing_err_count',
      help: 'CSRs that could not be parsed.',
      registers: [registry],
    }),
    idExtractionErrors: new Counter({
      name: 'citadel_server_id_extraction_err_count',
      help: "Requests refused because no workload identity could be read from the caller's credentials (also counted as authentication failures).",
      registers: [registry],
    }),
    signErrors: new Counter({
      name: 'citadel_server_csr_sign_err_count',
      help: `CSRs that could not be signed, by error code and the signer asked for: a configured signer's name, "" when none was named, "${UNKNOWN_SIGNER}" for any other.`,
      labelNames: ['error', 'signer'],
      registers: [registry],
    }),
    issued: new Counter({
      name: 'citadel_server_success_cert_issuance_count',
      help: 'Certificates issued, by signer.',
      labelNames: ['signer'],
      registers: [registry],
    }),
    issuanceSeconds: new Histogram({
      name: 'meshca_issuance_duration_seconds',
      help: 'Time from request received to chain returned, successful issuances.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    }),
    reloadFailures: new Counter({
      name: 'meshca_ca_reload_failures_total',
      help: 'CA bundle reloads refused; the last good bundle kept serving.',
      registers: [registry],
    }),
    rootRenewals: new Counter({
      name: 'meshca_self_signed_root_renewals_total',
      help: 'Times the self-signed root was re-issued with its key before it expired.',
      registers: [registry],
    }),
    expiryWarning,
    issuanceLogDamaged: new Counter({
      name: 'meshca_issuance_log_damaged_total',
      help: 'Unreadable issuance-log tails found at start (a crash during a write); each is kept aside and recorded as a break.',
      registers: [registry],
    }),
    trackSignerRoots(roots) {
      signerRoots = roots;
    },
    trackBundle(next) {
      bundle = next;
      expiryWarning.set(next.warnings.length > 0 ? 1 : 0);
    },
  };
}

/** The primary's own metrics under `--workers N`, scraped beside the workers' aggregated ones. */
export interface PrimaryMetrics {
  registry: Registry;
  /** Workers that died unexpectedly and were restarted. */
  restarts: Counter;
}

export function createPrimaryMetrics(workers: number): PrimaryMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'meshca_workers',
    help: 'Workers configured (--workers).',
    registers: [registry],
  }).set(workers);
  return {
    registry,
    restarts: new Counter({
      name: 'meshca_worker_restarts_total',
      help: 'Workers that died unexpectedly and were restarted.',
      registers: [registry],
    }),
  };
}
