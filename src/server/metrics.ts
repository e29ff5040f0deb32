// Prometheus metrics with Istio's names (citadel_server_*), so existing dashboards and alerts work,
// plus meshca's own. One registry per server, so several servers can live in one test process.
// Under `--workers N` the primary sums the workers' counters and histograms (prom-client's default
// aggregator); a gauge says how it combines, since adding up expiry times would mean nothing.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SigningBundle } from '../ca/signing-bundle.js';

export interface CaMetrics {
  registry: Registry;
  csrCount: Counter;
  authFailures: Counter;
  signErrors: Counter<'error' | 'signer'>;
  issued: Counter<'signer'>;
  issuanceSeconds: Histogram;
  reloadFailures: Counter;
  expiryWarning: Gauge;
  /** Points the expiry gauges at the bundle now in service. */
  trackBundle(bundle: SigningBundle): void;
  /** Per-signer root expiry (RA mode): signer name → the notAfter of its earliest root. */
  trackSignerRoots(roots: ReadonlyMap<string, Date>): void;
}

export function createCaMetrics(): CaMetrics {
  const registry = new Registry();
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
    signErrors: new Counter({
      name: 'citadel_server_csr_sign_err_count',
      help: 'CSRs that could not be signed, by error code and signer.',
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
    expiryWarning,
    trackSignerRoots(roots) {
      signerRoots = roots;
    },
    trackBundle(next) {
      bundle = next;
      expiryWarning.set(next.warnings.length > 0 ? 1 : 0);
    },
  };
}
