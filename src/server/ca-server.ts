// `meshca serve`: the CA process. Wires the CA bundle, token verification, issuance, the gRPC
// service over TLS, metrics and reloads together, and shuts down gracefully.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { caServiceDefinition } from '../api/ca-service.js';
import { type CaMode, CertificateAuthority } from '../ca/certificate-authority.js';
import { certificateFields } from '../ca/issuance-log/certificate-fields.js';
import {
  type IssuanceLog,
  type IssuanceLogSettings,
  openIssuanceLog,
} from '../ca/issuance-log/issuance-log.js';
import { dataDirRotationInService } from '../ca/rotation/data-dir-rotation.js';
import { unavailable } from '../errors.js';
import type { DashboardAccess } from '../http/dashboard/dashboard-handler.js';
import {
  createReloadableTokenVerifier,
  type ReloadableTokenVerifier,
} from '../identity/reloadable-token-verifier.js';
import type { TrustedIssuer } from '../identity/token-verifier.js';
import { LOCAL_SIGNER_NAME } from '../issuance/ca-mode-issuance.js';
import type { Issuance } from '../issuance/issuance.js';
import type { KubernetesHome } from '../kubernetes/kubernetes-home.js';
import type { Logger } from '../log.js';
import type { MeshConfigResult } from '../mesh/types.js';
import { createCallAuthenticator } from './authenticate-call.js';
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  grpcServerOptions,
  http2ServerOptions,
  timeOutHalfSentRequests,
} from './connection-limits.js';
import { createCertificateHandler, type TtlPolicy } from './create-certificate.js';
import { dashboardPages } from './dashboard-data.js';
import { listenFailed } from './ensure-ports-free.js';
import { createIssuanceActivity } from './issuance-activity.js';
import { startIssuance } from './issuance-in-service.js';
import { withIssuanceLog } from './logged-issuance.js';
import { createCaMetrics } from './metrics.js';
import { type Readiness, startMonitoringServer } from './monitoring-server.js';
import { publishTrustBundle } from './publish-trust-bundle.js';
import {
  type RejectedClientCertificates,
  trackRejectedClientCertificates,
} from './rejected-client-certificates.js';
import { trackReloads } from './reload-history.js';
import { reportCaEvents } from './report-ca-events.js';
import { startRotationInService, warnRecordsWriteFailed } from './rotation-in-service.js';
import { createServingIdentity } from './serving-credentials.js';
import { type RootRenewalSettings, watchRootRenewal } from './watch-root-renewal.js';

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
  rootRenewal?: RootRenewalSettings;
  /**
   * The Kubernetes home (--kubeconfig): `ca` is then its Secret store, tokens are checked by
   * TokenReview, and the roots go to every namespace's istio-ca-root-cert instead of the data directory.
   */
  kubernetes?: KubernetesHome;
  /**
   * The tamper-evident issuance log (--issuance-log-dir): every certificate, the server's own too,
   * is on disk there before it is handed out. Absent or null: no log.
   */
  issuanceLog?: Omit<IssuanceLogSettings, 'log' | 'onDamage'> | null;
  /** The read-only dashboard at /ui on the monitoring port (--ui); absent or null: off. */
  dashboard?: DashboardAccess | null;
  /** Under --workers, this worker's name for its own issuance records (its slot, e.g. worker-2). */
  issuanceRecordsWriter?: string;
}

export interface CaServer {
  grpcPort: number;
  monitoringPort: number | undefined;
  ca: CertificateAuthority;
  /** This server's metrics (a cluster worker hands it to its primary for aggregation). */
  metricsRegistry: Registry;
  /** Not ready while shutting down, once the signing certificate has expired, or while the key's token does not answer. */
  readiness(): Readiness;
  /** Re-reads the CA directory and the mesh configuration (SIGHUP). */
  reload(): Promise<boolean>;
  /** Stops accepting, lets in-flight requests finish, releases everything. */
  close(): Promise<void>;
}

/** The issuance in force, logged; wrapped once per issuance, not once per request. */
function loggedIssuance(current: () => Issuance, log: IssuanceLog): () => Issuance {
  let source: Issuance | undefined;
  let wrapped: Issuance | undefined;
  return () => {
    const now = current();
    if (now !== source) {
      source = now;
      wrapped = withIssuanceLog(now, log);
    }
    return wrapped!;
  };
}

export async function startCaServer(opts: CaServerOptions): Promise<CaServer> {
  const log = opts.log;
  const metrics = createCaMetrics();
  // A staged root change (meshca rotate): its plan and records live in the home in use.
  const rotationHome = opts.kubernetes
    ? await opts.kubernetes.rotationInService(warnRecordsWriteFailed(log))
    : opts.ca.kind === 'store'
      ? undefined
      : await dataDirRotationInService(opts.dataDir, {
          writer: opts.issuanceRecordsWriter,
          debounceMs: opts.reloadDebounceMs,
          onRecordsWriteFailed: warnRecordsWriteFailed(log),
        });
  const rotation =
    rotationHome && (await startRotationInService({ home: rotationHome, log, registry: metrics.registry }));
  const ca = await CertificateAuthority.open(opts.ca, undefined, rotation?.overlay);
  // Before anything is issued (the serving certificate too): a log that cannot be opened (locked,
  // damaged, no space) stops the start.
  const issuanceLog: IssuanceLog | undefined = opts.issuanceLog
    ? await openIssuanceLog({
        ...opts.issuanceLog,
        log,
        onDamage: () => metrics.issuanceLogDamaged.inc(),
      }).catch((err) => {
        ca.close();
        void rotation?.close();
        throw err;
      })
    : undefined;
  const loggedIfLogging = (current: () => Issuance) =>
    issuanceLog ? loggedIssuance(current, issuanceLog) : current;
  const bundle = ca.bundle;
  log.info(ca.created ? 'created self-signed root CA' : 'loaded CA bundle', {
    source: bundle.source,
    dir: bundle.dir,
    signingCert: bundle.issuer.certificate.subject,
    notAfter: bundle.issuer.certificate.notAfter.toISOString(),
    roots: bundle.roots.map((r) => r.subject),
  });
  for (const warning of bundle.warnings) log.warn(warning, { event: 'ca-expiry-warning' });

  metrics.trackBundle(bundle);
  const activity = createIssuanceActivity();
  const reloads = trackReloads(ca);

  const home = opts.kubernetes;
  const tokens: ReloadableTokenVerifier = home
    ? { verify: home.tokens.verify, reload: async () => false, close() {} }
    : await createReloadableTokenVerifier({
        issuerDir: join(opts.dataDir, 'issuer'),
        audiences: opts.audiences,
        trustedIssuers: opts.trustedIssuers,
        log,
        debounceMs: opts.reloadDebounceMs,
      });
  const issuing = await startIssuance({
    ca,
    mesh: opts.mesh,
    trustDomain: opts.trustDomain,
    signerTimeoutMs: opts.signerTimeoutMs,
    reloadDebounceMs: opts.reloadDebounceMs,
    kubernetesCsr: home?.csr,
    metrics,
    log,
  });
  const servingCa = issuing.servingCa ?? ca;
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
  const serving = await createServingIdentity(servingCa.bundle, {
    hosts: opts.hosts,
    log,
    record: issuanceLog
      ? async (pem, names) => {
          await issuanceLog.append({
            kind: 'serving',
            ...certificateFields(pem),
            spiffeId: null,
            dnsNames: names,
            requester: { via: 'self', issuer: 'meshca', subject: 'serving-certificate' },
            // The signer's own name, as workload entries carry it (PILOT_CERT_PROVIDER less its k8s.io/).
            signer:
              issuing.servingCa || issuing.servingIssuer
                ? (issuing.config()?.pilotCertProvider?.replace(/^k8s\.io\//, '') ?? LOCAL_SIGNER_NAME)
                : LOCAL_SIGNER_NAME,
            requestId: randomUUID(),
          });
        }
      : undefined,
    serverOptions: http2ServerOptions(limits),
    issuer: issuing.servingIssuer,
  });
  if (servingCa !== ca) servingCa.on('bundle', ({ bundle: next }) => void serving.renew(next));

  const publishRoots = !issuing.config()?.raMode && !home;
  if (publishRoots) await publishTrustBundle(opts.dataDir, ca.bundle.rootsPem, log);
  home?.attach(ca, { roots: !issuing.config()?.raMode, onRootRenewed: () => metrics.rootRenewals.inc() });
  reportCaEvents(ca, {
    log,
    metrics,
    onBundle(next, rootChanged) {
      if (rootChanged && !issuing.config()?.raMode && !home)
        void publishTrustBundle(opts.dataDir, next.rootsPem, log);
      if (servingCa === ca) void serving.renew(next);
    },
  });
  if (opts.ca.kind !== 'self-signed') ca.watch({ debounceMs: opts.reloadDebounceMs });
  await rotation?.attach(ca);
  const renewal =
    opts.ca.kind === 'self-signed'
      ? watchRootRenewal({ dir: opts.ca.dir, policy: opts.rootRenewal, ca, metrics, log })
      : undefined;

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
      issuance: loggedIfLogging(
        rotation ? () => rotation.recording(issuing.current()) : () => issuing.current(),
      ),
      ttl: opts.ttl,
      metrics,
      log,
      track,
      activity,
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
    const keyHealth = ca.bundle.issuer.key.health?.();
    if (keyHealth && !keyHealth.ok) return keyHealth;
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
    await rotation?.close();
    tokens.close();
    await issuing.close();
    serving.close();
    await home?.close();
    // Last: every request has finished, so the closing checkpoint covers all that was issued.
    await issuanceLog?.close();
  };
  try {
    monitoring = opts.monitoring
      ? await startMonitoringServer({
          ...opts.monitoring,
          registry: metrics.registry,
          ready: readiness,
          pages: opts.dashboard
            ? dashboardPages(opts.dashboard, {
                ca,
                config: () => issuing.config(),
                activity,
                reloads,
                logDir: issuanceLog?.dir,
                dataDir: home ? undefined : opts.dataDir,
              })
            : undefined,
        })
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
      await issuing.reload();
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
