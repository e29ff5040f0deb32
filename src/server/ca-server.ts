// `meshca serve`: the CA process. Wires the CA bundle, token verification, issuance, the gRPC
// service over TLS, metrics and reloads together, and shuts down gracefully.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { caServiceDefinition } from '../api/ca-service.js';
import { type CaMode, CertificateAuthority } from '../ca/certificate-authority.js';
import {
  DEFAULT_ROOT_RENEWAL,
  type RootRenewalPolicy,
  renewSelfSignedRootIfDue,
} from '../ca/renew-self-signed-root.js';
import { configError, unavailable } from '../errors.js';
import { createReloadableTokenVerifier } from '../identity/reloadable-token-verifier.js';
import type { TrustedIssuer } from '../identity/token-verifier.js';
import type { Logger } from '../log.js';
import type { MeshConfig, MeshConfigResult } from '../mesh/types.js';
import { watchMeshConfig } from '../mesh/watch-mesh-config.js';
import { createCaModeIssuance } from '../ra/ca-mode-issuance.js';
import type { Issuance } from '../ra/issuance.js';
import { createRaModeIssuance } from '../ra/ra-mode-issuance.js';
import { createSignerRegistry, isLocalIssuer } from '../ra/signer-registry.js';
import { createCallAuthenticator } from './authenticate-call.js';
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  grpcServerOptions,
  http2ServerOptions,
  timeOutHalfSentRequests,
} from './connection-limits.js';
import { createCertificateHandler, type TtlPolicy } from './create-certificate.js';
import { listenFailed } from './ensure-ports-free.js';
import { createCaMetrics } from './metrics.js';
import { type Readiness, startMonitoringServer } from './monitoring-server.js';
import { publishTrustBundle } from './publish-trust-bundle.js';
import {
  type RejectedClientCertificates,
  trackRejectedClientCertificates,
} from './rejected-client-certificates.js';
import { createServingIdentity } from './serving-credentials.js';
import { signerRootExpiry } from './signer-root-expiry.js';

export type { Readiness };

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
  /** Istio YAML (--config): RA mode, signers, caCertificates; watched for changes. */
  mesh?: { path: string; initial: MeshConfigResult; dataDir?: string };
  /** How long an external signer may take (default 60 s, like Istio's CSR watch). */
  signerTimeoutMs?: number;
  /**
   * The log line that announces the ports once listening (default "meshca CA serving", which tests
   * and the demo wait for). A cluster worker says "worker serving": its primary announces the CA.
   */
  servingMessage?: string;
  /** What one client connection may hold (tests shorten them); the defaults otherwise. */
  limits?: Partial<ConnectionLimits>;
  /** Self-signed mode: when to re-issue the root, and how often to look (default 20%, hourly). */
  rootRenewal?: RootRenewalPolicy & { checkIntervalMs: number };
}

export interface CaServer {
  grpcPort: number;
  monitoringPort: number | undefined;
  ca: CertificateAuthority;
  /** This server's metrics (a cluster worker hands it to its primary for aggregation). */
  metricsRegistry: Registry;
  /** Not ready while shutting down or once the signing certificate has expired. */
  readiness(): Readiness;
  /** Re-reads the CA directory and the mesh configuration (SIGHUP). */
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

  const tokens = await createReloadableTokenVerifier({
    issuerDir: join(opts.dataDir, 'issuer'),
    audiences: opts.audiences,
    trustedIssuers: opts.trustedIssuers,
    log,
    debounceMs: opts.reloadDebounceMs,
  });
  const signers = createSignerRegistry({
    log,
    timeoutMs: opts.signerTimeoutMs ?? 60_000,
    debounceMs: opts.reloadDebounceMs,
  });
  const buildIssuance = (config: MeshConfig | undefined): Issuance =>
    config?.raMode
      ? createRaModeIssuance({
          config,
          signers,
          trustDomain: opts.trustDomain,
          timeoutMs: opts.signerTimeoutMs,
        })
      : createCaModeIssuance(ca, opts.trustDomain);
  let meshConfig = opts.mesh?.initial.config;
  if (opts.mesh) {
    for (const note of opts.mesh.initial.notes) log.info(note, { event: 'config-note' });
    await signers.update(meshConfig!.signers);
  }
  let issuance = buildIssuance(meshConfig);
  metrics.trackSignerRoots(signerRootExpiry(meshConfig));
  if (meshConfig?.raMode) {
    log.info('registration-authority mode: CSRs go to external signers', {
      event: 'ra-mode',
      signers: signers.names(),
    });
  }
  // PILOT_CERT_PROVIDER=k8s.io/<signer>: the server's own certificate comes from that signer.
  const provider = meshConfig?.pilotCertProvider?.startsWith('k8s.io/')
    ? meshConfig.pilotCertProvider.slice('k8s.io/'.length)
    : undefined;
  const providerSigner = provider ? signers.get(provider) : undefined;
  if (provider && !isLocalIssuer(providerSigner)) {
    await signers.close();
    throw configError(
      'SERVER_CERT_PROVIDER_UNSUPPORTED',
      `PILOT_CERT_PROVIDER=k8s.io/${provider}: ${providerSigner ? "only a ClusterIssuer signer can provide the CA server's certificate" : 'no such signer is configured'}; define it as a ClusterIssuer, or use PILOT_CERT_PROVIDER=istiod`,
    );
  }
  const servingCa = isLocalIssuer(providerSigner) ? providerSigner.ca : ca;
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
  const serving = createServingIdentity(servingCa.bundle, {
    hosts: opts.hosts,
    serverOptions: http2ServerOptions(limits),
  });
  if (servingCa !== ca) servingCa.on('bundle', ({ bundle: next }) => serving.renew(next));
  const meshWatch = opts.mesh
    ? watchMeshConfig(opts.mesh.path, {
        dataDir: opts.mesh.dataDir,
        current: opts.mesh.initial,
        debounceMs: opts.reloadDebounceMs,
        onChange(result) {
          void signers.update(result.config.signers).then(
            () => {
              meshConfig = result.config;
              issuance = buildIssuance(meshConfig);
              metrics.trackSignerRoots(signerRootExpiry(meshConfig));
              for (const note of result.notes) log.info(note, { event: 'config-note' });
              log.info('mesh configuration reloaded', {
                event: 'config-reloaded',
                raMode: meshConfig.raMode,
                signers: signers.names(),
              });
            },
            (err: Error) => {
              metrics.reloadFailures.inc();
              log.error('mesh configuration refused; the last good one stays in force', {
                event: 'config-reload-failed',
                reason: err.message,
              });
            },
          );
        },
        onError(err) {
          metrics.reloadFailures.inc();
          log.error('mesh configuration refused; the last good one stays in force', {
            event: 'config-reload-failed',
            code: err.code,
            reason: err.message,
          });
        },
      })
    : undefined;

  if (!meshConfig?.raMode) await publishTrustBundle(opts.dataDir, ca.bundle.rootsPem, log);
  ca.on('bundle', ({ bundle: next, previous, rootChanged }) => {
    metrics.trackBundle(next);
    if (rootChanged && !meshConfig?.raMode) void publishTrustBundle(opts.dataDir, next.rootsPem, log);
    if (servingCa === ca) serving.renew(next);
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
  // After a refused reload, the next good one says so: the operator's fix has worked.
  let reloadFailing = false;
  const recovered = (dir: string, changed: boolean) => {
    if (!reloadFailing) return;
    reloadFailing = false;
    log.info(
      changed
        ? 'CA bundle reload recovered: the fixed bundle is in service'
        : 'CA bundle reload recovered: the directory is valid again (the bundle in service is unchanged)',
      { event: 'ca-reload-recovered', dir, changed },
    );
  };
  ca.on('reload-unchanged', ({ dir }) => recovered(dir, false));
  ca.on('bundle', () => recovered(opts.ca.dir, true));
  ca.on('reload-failed', ({ error, dir }) => {
    reloadFailing = true;
    metrics.reloadFailures.inc();
    log.error('CA bundle reload refused; the last good bundle keeps serving', {
      event: 'ca-reload-failed',
      dir,
      code: error.code,
      reason: error.message,
    });
  });
  if (opts.ca.kind === 'plugged') ca.watch({ debounceMs: opts.reloadDebounceMs });
  const renewal = opts.ca.kind === 'self-signed' ? watchRootRenewal(opts, ca, metrics, log) : undefined;

  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    return work;
  };
  const server = new grpc.Server(grpcServerOptions(limits));
  // Filled in once the server listens (the HTTP/2 servers exist only after bindAsync).
  let rejectedCertificates: RejectedClientCertificates | undefined;
  server.addService(caServiceDefinition(), {
    CreateCertificate: createCertificateHandler({
      authenticator: createCallAuthenticator({
        tokens,
        ca,
        trustDomain: opts.trustDomain,
        rejectedCertificates: { reasonFor: (peer) => rejectedCertificates?.reasonFor(peer) },
      }),
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
  timeOutHalfSentRequests(server, limits, log);
  rejectedCertificates = trackRejectedClientCertificates(server);

  let closing = false;
  const readiness = (): Readiness => {
    if (closing) return { ok: false, reason: 'shutting down' };
    const cert = ca.bundle.issuer.certificate;
    return cert.notAfter.getTime() > Date.now()
      ? { ok: true }
      : { ok: false, reason: `signing certificate expired at ${cert.notAfter.toISOString()}` };
  };
  let monitoring: Awaited<ReturnType<typeof startMonitoringServer>> | undefined;
  /** Everything besides the gRPC listener and the monitoring port: watchers, signers, timers. */
  const releaseAll = async () => {
    renewal?.stop();
    ca.close();
    tokens.close();
    meshWatch?.close();
    await signers.close();
    serving.close();
  };
  try {
    monitoring = opts.monitoring
      ? await startMonitoringServer({ ...opts.monitoring, registry: metrics.registry, ready: readiness })
      : undefined;
  } catch (err) {
    // Half-started is worse than not started: release everything so the process can exit.
    server.forceShutdown();
    await releaseAll();
    throw listenFailed({ flag: '--monitoring', ...opts.monitoring! }, err as NodeJS.ErrnoException);
  }
  log.info(opts.servingMessage ?? 'meshca CA serving', {
    grpc: `${opts.listen.host}:${grpcPort}`,
    monitoring: monitoring ? `${opts.monitoring?.host}:${monitoring.port}` : 'off',
    trustDomain: opts.trustDomain,
    pid: process.pid,
  });

  return {
    grpcPort,
    monitoringPort: monitoring?.port,
    ca,
    metricsRegistry: metrics.registry,
    readiness,
    async reload() {
      await meshWatch?.reload();
      const keysChanged = await tokens.reload();
      return (await ca.reload()) || keysChanged;
    },
    async close() {
      if (closing) return;
      closing = true;
      // Stop accepting and tell clients (GOAWAY); calls in flight finish. A connection its client
      // does not close afterwards (a stuck or hostile peer) must not hold the process forever.
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await Promise.allSettled([...inFlight]);
      const grace = new Promise<'grace'>((resolve) =>
        setTimeout(resolve, limits.shutdownGraceMs, 'grace').unref(),
      );
      if ((await Promise.race([drained, grace])) === 'grace') {
        log.warn('connections still open after the shutdown grace period; closing them', {
          event: 'shutdown-forced',
          graceMs: limits.shutdownGraceMs,
        });
        server.forceShutdown();
      }
      await releaseAll();
      await monitoring?.close();
    },
  };
}

const HOUR_MS = 3_600_000;

/**
 * Self-signed mode: checks the root now and every `checkIntervalMs`, re-issues it with its key when
 * less than `gracePercent` of its life is left, and reloads, so the new root signs and the trust bundle
 * holds old and new (see ca/renew-self-signed-root.ts). A failure is logged and tried again later.
 */
function watchRootRenewal(
  opts: CaServerOptions,
  ca: CertificateAuthority,
  metrics: ReturnType<typeof createCaMetrics>,
  log: Logger,
): { stop(): void } {
  const policy = { ...DEFAULT_ROOT_RENEWAL, checkIntervalMs: HOUR_MS, ...opts.rootRenewal };
  const check = async () => {
    try {
      const renewed = await renewSelfSignedRootIfDue(opts.ca.dir, policy);
      if (!renewed) return;
      metrics.rootRenewals.inc();
      log.info('self-signed root renewed with its key: old and new roots are both in the trust bundle', {
        event: 'root-renewed',
        previousSerial: renewed.previousSerial,
        previousNotAfter: renewed.previousNotAfter.toISOString(),
        serial: renewed.serial,
        notAfter: renewed.notAfter.toISOString(),
        roots: renewed.roots,
      });
      await ca.reload();
    } catch (err) {
      log.error('self-signed root renewal failed; trying again at the next check', {
        event: 'root-renewal-failed',
        reason: (err as Error).message,
      });
    }
  };
  const first = check();
  const timer = setInterval(() => void check(), policy.checkIntervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      void first;
    },
  };
}
