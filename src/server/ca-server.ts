// `meshca serve`: the CA process. Wires the CA bundle, token verification, issuance, the gRPC
// service over TLS, metrics and reloads together, and shuts down gracefully.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { caServiceDefinition } from '../api/ca-service.js';
import { type CaMode, CertificateAuthority } from '../ca/certificate-authority.js';
import { unavailable } from '../errors.js';
import { loadOrCreateTokenIssuer } from '../identity/token-issuer.js';
import { createTokenVerifier, type TrustedIssuer } from '../identity/token-verifier.js';
import type { Logger } from '../log.js';
import { createCaModeIssuance } from '../ra/ca-mode-issuance.js';
import type { Issuance } from '../ra/issuance.js';
import { createCallAuthenticator } from './authenticate-call.js';
import { createCertificateHandler, type TtlPolicy } from './create-certificate.js';
import { createCaMetrics } from './metrics.js';
import { startMonitoringServer } from './monitoring-server.js';
import { createServingIdentity } from './serving-credentials.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface CaServerOptions {
  dataDir: string;
  listen: HostPort;
  /** null turns the monitoring port off. */
  monitoring: HostPort | null;
  trustDomain: string;
  ca: CaMode;
  ttl: TtlPolicy;
  /** Extra DNS names / IPs for the server certificate (--host). */
  hosts: string[];
  /** Token issuers besides the embedded one (JWT_RULE / --jwt-rule). */
  trustedIssuers: TrustedIssuer[];
  /** Audiences the embedded issuer's tokens must carry. */
  audiences: string[];
  log: Logger;
  /** Debounce for directory watching (tests shorten it). */
  reloadDebounceMs?: number;
}

export interface CaServer {
  grpcPort: number;
  monitoringPort: number | undefined;
  ca: CertificateAuthority;
  /** Re-reads the CA directory (SIGHUP). */
  reload(): Promise<boolean>;
  /** Stops accepting, lets in-flight requests finish, releases everything. */
  close(): Promise<void>;
}

export async function startCaServer(opts: CaServerOptions): Promise<CaServer> {
  const log = opts.log;
  const ca = await CertificateAuthority.open(opts.ca);
  const bundle = ca.bundle;
  log.info(ca.created ? 'created self-signed root CA' : 'loaded CA bundle', {
    source: bundle.source,
    dir: bundle.dir,
    signingCert: bundle.issuer.certificate.subject,
    notAfter: bundle.issuer.certificate.notAfter.toISOString(),
    roots: bundle.roots.map((r) => r.subject),
  });
  for (const warning of bundle.warnings) log.warn(warning, { event: 'ca-expiry-warning' });

  const metrics = createCaMetrics();
  metrics.trackBundle(bundle);

  const embedded = await loadOrCreateTokenIssuer(join(opts.dataDir, 'issuer'));
  const tokens = createTokenVerifier([
    { issuer: embedded.issuer, audiences: opts.audiences, jwks: embedded.jwks() },
    ...opts.trustedIssuers,
  ]);
  const issuance: Issuance = createCaModeIssuance(ca, opts.trustDomain);
  const serving = createServingIdentity(bundle, { hosts: opts.hosts });

  ca.on('bundle', ({ bundle: next, previous, rootChanged }) => {
    metrics.trackBundle(next);
    serving.renew(next);
    log.info('CA bundle reloaded', {
      event: 'ca-reloaded',
      signingCert: next.issuer.certificate.subject,
      serial: next.issuer.certificate.serialHex,
      previousSerial: previous.issuer.certificate.serialHex,
      rootChanged,
    });
    if (rootChanged)
      log.warn('the root of trust changed: workloads get the new trust bundle on their next renewal', {
        event: 'root-changed',
        roots: next.roots.map((r) => r.subject),
      });
    for (const warning of next.warnings) log.warn(warning, { event: 'ca-expiry-warning' });
  });
  ca.on('reload-failed', ({ error, dir }) => {
    metrics.reloadFailures.inc();
    log.error('CA bundle reload refused; the last good bundle keeps serving', {
      event: 'ca-reload-failed',
      dir,
      code: error.code,
      reason: error.message,
    });
  });
  if (opts.ca.kind === 'plugged') ca.watch({ debounceMs: opts.reloadDebounceMs });

  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    return work;
  };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 1 << 20 });
  server.addService(caServiceDefinition(), {
    CreateCertificate: createCertificateHandler({
      authenticator: createCallAuthenticator({ tokens, ca, trustDomain: opts.trustDomain }),
      issuance: () => issuance,
      ttl: opts.ttl,
      metrics,
      log,
      track,
    }),
  });
  const address = `${opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host}:${opts.listen.port}`;
  const grpcPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, serving.credentials, (err, port) =>
      err
        ? reject(
            unavailable(
              'SERVER_LISTEN_FAILED',
              `cannot listen on ${address}: ${err.message}; pick another --listen address`,
              err,
            ),
          )
        : resolve(port),
    );
  });

  let closing = false;
  const monitoring = opts.monitoring
    ? await startMonitoringServer({
        ...opts.monitoring,
        registry: metrics.registry,
        ready: () => {
          if (closing) return { ok: false, reason: 'shutting down' };
          const cert = ca.bundle.issuer.certificate;
          return cert.notAfter.getTime() > Date.now()
            ? { ok: true }
            : { ok: false, reason: `signing certificate expired at ${cert.notAfter.toISOString()}` };
        },
      })
    : undefined;
  log.info('meshca CA serving', {
    grpc: `${opts.listen.host}:${grpcPort}`,
    monitoring: monitoring ? `${opts.monitoring?.host}:${monitoring.port}` : 'off',
    trustDomain: opts.trustDomain,
  });

  return {
    grpcPort,
    monitoringPort: monitoring?.port,
    ca,
    reload: () => ca.reload(),
    async close() {
      if (closing) return;
      closing = true;
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await Promise.allSettled([...inFlight]);
      ca.close();
      serving.close();
      await monitoring?.close();
    },
  };
}
