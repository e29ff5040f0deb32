// `meshca serve`: the CA server. Resolves settings (flags > Istio's environment variables >
// defaults), starts the server (one process, or a primary and --workers N), reloads on SIGHUP and
// drains on SIGTERM/SIGINT.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { CaMode } from '../ca/certificate-authority.js';
import { prepareDataDirectory } from '../ca/prepare-data-directory.js';
import { configError, invalidInput } from '../errors.js';
import { parseJwtRules } from '../identity/parse-jwt-rules.js';
import type { TrustedIssuer } from '../identity/token-verifier.js';
import { openKubernetesHome } from '../kubernetes/kubernetes-home.js';
import { createLogger, type Logger, type LogLevel } from '../log.js';
import { loadMeshConfig } from '../mesh/load-mesh-config.js';
import type { MeshConfigResult } from '../mesh/types.js';
import { parseKeyType } from '../pki/keys.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import type { KeyType } from '../pki/types.js';
import { startCaServer } from '../server/ca-server.js';
import type { ConnectionLimits } from '../server/connection-limits.js';
import { ensurePortsFree } from '../server/ensure-ports-free.js';
import { startServeCluster } from '../server/serve-cluster.js';
import { isServeWorker, runServeWorker } from '../server/serve-worker.js';
import { type CommandSpec, list, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { CSR_SIGNER_HELP, CSR_SIGNER_OPTIONS, resolveCsrSignerNames } from './csr-signer-settings.js';
import {
  DASHBOARD_HELP,
  DASHBOARD_OPTIONS,
  type DashboardSettings,
  resolveDashboardSettings,
} from './dashboard-settings.js';
import { parseDurationSeconds } from './duration.js';
import {
  ISSUANCE_LOG_HELP,
  ISSUANCE_LOG_OPTIONS,
  type IssuanceLogServeSettings,
  resolveIssuanceLog,
} from './issuance-log-settings.js';
import {
  KUBERNETES_HELP,
  KUBERNETES_OPTIONS,
  type KubernetesSettings,
  resolveKubernetesSettings,
} from './kubernetes-settings.js';
import { parseLimits } from './parse-limits.js';
import { resolveServeCaKey, SERVE_PKCS11_HELP, SERVE_PKCS11_OPTIONS } from './pkcs11-settings.js';
import { parseHostPort, pick, pickOptional, SettingsProblems } from './settings.js';
import {
  resolveWorkloadSecrets,
  WORKLOAD_SECRETS_HELP,
  WORKLOAD_SECRETS_OPTIONS,
  type WorkloadSecretsSettings,
} from './workload-secrets-settings.js';

const spec: CommandSpec = {
  name: 'serve',
  summary: "run the CA: Istio's certificate service over gRPC+TLS, self-signed or with your plugged-in CA",
  usage: 'meshca serve [--data-dir DIR] [--cacerts DIR] [--listen HOST:PORT] [options]',
  options: {
    'data-dir': { type: 'string' },
    cacerts: { type: 'string' },
    listen: { type: 'string' },
    monitoring: { type: 'string' },
    'trust-domain': { type: 'string' },
    'ca-key-type': { type: 'string' },
    'workload-cert-ttl': { type: 'string' },
    'max-workload-cert-ttl': { type: 'string' },
    host: { type: 'string', multiple: true },
    'jwt-rule': { type: 'string' },
    audience: { type: 'string', multiple: true },
    'log-level': { type: 'string' },
    config: { type: 'string' },
    workers: { type: 'string' },
    limit: { type: 'string', multiple: true },
    ...ISSUANCE_LOG_OPTIONS,
    ...KUBERNETES_OPTIONS,
    ...DASHBOARD_OPTIONS,
    ...CSR_SIGNER_OPTIONS,
    ...WORKLOAD_SECRETS_OPTIONS,
    ...SERVE_PKCS11_OPTIONS,
  },
  optionHelp: [
    '--data-dir DIR               state directory (env MESHCA_DATA_DIR, default ./.meshca)',
    '--cacerts DIR                plugged-in CA: ca-cert.pem ca-key.pem root-cert.pem cert-chain.pem, or tls.crt tls.key ca.crt',
    '                             (env MESHCA_CACERTS; default <data-dir>/cacerts when it exists, else a self-signed root in <data-dir>/ca)',
    '--listen HOST:PORT           gRPC address (env MESHCA_LISTEN, default 127.0.0.1:15012)',
    '--monitoring HOST:PORT|off   /metrics /healthz /readyz and the /ui dashboard (env MESHCA_MONITORING, default 127.0.0.1:15014)',
    '--trust-domain TD            SPIFFE trust domain (env TRUST_DOMAIN, default cluster.local)',
    "--ca-key-type TYPE           self-signed root key: ec-p256 (default), ec-p384, rsa-2048 (Istio's), … (env MESHCA_CA_KEY_TYPE)",
    '--workload-cert-ttl DUR      default certificate lifetime (env DEFAULT_WORKLOAD_CERT_TTL, default 24h)',
    '--max-workload-cert-ttl DUR  longest lifetime a workload may ask for (env MAX_WORKLOAD_CERT_TTL, default 2160h = 90 days)',
    '--host NAME                  extra DNS name or IP for the server certificate (repeatable)',
    "--jwt-rule JSON              trust another token issuer, like Istio's JWT_RULE (env JWT_RULE):",
    '                             {"issuer":"https://kubernetes.default.svc","audiences":["istio-ca"],"jwks_file":"jwks.json"}',
    "--audience AUD               audience the embedded issuer's tokens must carry (repeatable, env TOKEN_AUDIENCE, default istio-ca)",
    '--log-level LEVEL            debug, info (default), warn, error (env MESHCA_LOG_LEVEL)',
    '--config DIR|FILE            Istio YAML (IstioOperator, ProxyConfig, PeerAuthentication, ClusterIssuer,',
    '                             StepClusterIssuer), watched (env MESHCA_CONFIG, default <data-dir>/config when it exists)',
    '--workers N|auto             processes serving --listen together, to use more cores (env MESHCA_WORKERS, default 1);',
    '                             auto = one per CPU this process may run on. With N > 1 a primary forks the workers,',
    '                             serves --monitoring for all of them, forwards SIGHUP, drains them on SIGTERM and',
    '                             restarts one that dies',
    '--limit NAME=VALUE           change one connection limit (repeatable; env MESHCA_LIMITS="NAME=VALUE,…"):',
    '                             handshake-timeout, keepalive-time, keepalive-timeout, max-connection-idle,',
    '                             max-connection-age, max-connection-age-grace, request-receive-timeout,',
    '                             shutdown-grace (durations: 10s, 5m); max-concurrent-streams,',
    '                             max-session-memory-mb, max-header-list-bytes (numbers). See the README',
    ...ISSUANCE_LOG_HELP,
    ...KUBERNETES_HELP,
    ...DASHBOARD_HELP,
    ...CSR_SIGNER_HELP,
    ...WORKLOAD_SECRETS_HELP,
    ...SERVE_PKCS11_HELP,
    "Self-signed root renewal (Istio's variables): CITADEL_SELF_SIGNED_CA_CERT_TTL (root lifetime, default 87600h),",
    '                             CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE (renew when less is left, default 20),',
    '                             CITADEL_SELF_SIGNED_ROOT_CERT_CHECK_INTERVAL (default 1h)',
  ],
  examples: [
    'meshca serve                                   # self-signed root in ./.meshca/ca, kept across restarts',
    'meshca serve --cacerts cluster1                # sign with the intermediate made by "meshca certs cluster1-cacerts"',
    'MAX_WORKLOAD_CERT_TTL=48h meshca serve --listen 0.0.0.0:15012 --host ca.example.internal',
    'meshca serve --config istio.yaml              # registration authority: EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API',
    'meshca serve --workers auto                    # one CA process per core, sharing 127.0.0.1:15012',
    'meshca serve --limit keepalive-time=30s --limit max-concurrent-streams=200',
    'meshca serve --kubeconfig ~/.kube/config --namespace istio-system   # the CA of a Kubernetes cluster',
    'meshca serve --kubeconfig ~/.kube/config --token-check jwks --istiod-tls   # tokens checked offline; istiod-tls kept',
    'meshca serve --kubeconfig ~/.kube/config --csr-signer-names example.com/foo --workload-secrets   # CSR signer; istio.<sa> Secrets',
    'meshca serve --kubeconfig ~/.kube/config --config istio.yaml   # RA over the CSR API (cert-manager signs)',
    'CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE=30 meshca serve   # renew the self-signed root earlier',
  ],
};

export interface ServeSettings {
  dataDir: string;
  ca: CaMode;
  listen: { host: string; port: number };
  monitoring: { host: string; port: number } | null;
  trustDomain: string;
  ttl: { defaultSeconds: number; maxSeconds: number };
  hosts: string[];
  trustedIssuers: TrustedIssuer[];
  audiences: string[];
  logLevel: LogLevel;
  /** Processes serving --listen together (1: this process alone). */
  workers: number;
  /** The Istio YAML read at start (--config), if any. */
  mesh?: { path: string; initial: MeshConfigResult; dataDir: string };
  /** Changes to the connection limits (--limit, MESHCA_LIMITS); the defaults for the rest. */
  limits: Partial<ConnectionLimits>;
  /** Self-signed root renewal (Istio's CITADEL_SELF_SIGNED_* variables). */
  rootRenewal: { gracePercent: number; days: number; checkIntervalMs: number };
  /** The Kubernetes home, when a kubeconfig is given or meshca runs in a pod. */
  kube?: KubernetesSettings;
  /** Kubernetes controllers: CSR signer names (--csr-signer-names), istio.<sa> Secrets (--workload-secrets). */
  kubeControllers: { csrSignerNames?: string[]; workloadSecrets?: WorkloadSecretsSettings };
  /** The issuance log (null: off). */
  issuanceLog: IssuanceLogServeSettings | null;
  /** The dashboard at /ui (null: off). */
  dashboard: DashboardSettings | null;
}

/** Every serve setting, resolved and checked together; throws one error listing every problem. */
export async function resolveServeSettings(
  values: Record<string, unknown>,
  ctx: CliContext,
): Promise<ServeSettings> {
  const env = ctx.env;
  const problems = new SettingsProblems();
  const dataDir = resolve(ctx.cwd, pick(str(values['data-dir']), env, 'MESHCA_DATA_DIR', '.meshca').value);
  // Files come after flags and the environment: the mesh config only fills what they leave open.
  const configFlag = pickOptional(str(values.config), env, 'MESHCA_CONFIG');
  const configPath =
    configFlag !== undefined
      ? resolve(ctx.cwd, configFlag)
      : existsSync(join(dataDir, 'config'))
        ? join(dataDir, 'config')
        : undefined;
  let mesh: ServeSettings['mesh'];
  if (configPath) {
    try {
      mesh = { path: configPath, initial: await loadMeshConfig(configPath, { dataDir }), dataDir };
    } catch (err) {
      problems.add((err as Error).message);
    }
  }
  const trustDomain = problems.try(
    () =>
      validateTrustDomain(
        pick(
          str(values['trust-domain']),
          env,
          'TRUST_DOMAIN',
          mesh?.initial.config.trustDomain ?? 'cluster.local',
        ).value,
      ),
    'cluster.local',
  );
  const keyType: KeyType = problems.try(
    () =>
      parseKeyType(
        pick(str(values['ca-key-type']), env, 'MESHCA_CA_KEY_TYPE', 'ec-p256').value,
        '--ca-key-type',
      ),
    'ec-p256',
  );
  // Istio's names for the self-signed root's lifetime and its renewal.
  const rootTtl = pick(undefined, env, 'CITADEL_SELF_SIGNED_CA_CERT_TTL', '87600h');
  const rootDays = Math.max(
    1,
    Math.round(
      problems.try(() => parseDurationSeconds(rootTtl.value, rootTtl.source), 87600 * 3600) / 86_400,
    ),
  );
  const graceText = pick(undefined, env, 'CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE', '20').value;
  const gracePercent = Number(graceText);
  if (!/^\d+(\.\d+)?$/.test(graceText) || gracePercent <= 0 || gracePercent >= 100)
    problems.add(
      `CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE "${graceText}": give a percentage between 0 and 100 (Istio's default 20)`,
    );
  const checkText = pick(undefined, env, 'CITADEL_SELF_SIGNED_ROOT_CERT_CHECK_INTERVAL', '1h');
  const checkIntervalMs =
    problems.try(() => parseDurationSeconds(checkText.value, checkText.source), 3600) * 1000;
  const cacertsFlag = pickOptional(str(values.cacerts), env, 'MESHCA_CACERTS');
  let ca: CaMode;
  let cacertsProblem: string | undefined;
  if (cacertsFlag !== undefined) {
    const dir = resolve(ctx.cwd, cacertsFlag);
    if (!existsSync(dir))
      cacertsProblem = `--cacerts ${dir} does not exist; make one with "meshca certs cluster1-cacerts" or drop --cacerts for a self-signed root`;
    else if (!statSync(dir).isDirectory())
      cacertsProblem = `--cacerts ${dir} is a file; give the directory that holds ca-cert.pem, ca-key.pem, cert-chain.pem and root-cert.pem (or tls.crt, tls.key, ca.crt)`;
    ca = { kind: 'plugged', dir };
  } else if (existsSync(join(dataDir, 'cacerts'))) {
    ca = { kind: 'plugged', dir: join(dataDir, 'cacerts') };
  } else {
    ca = { kind: 'self-signed', dir: join(dataDir, 'ca'), trustDomain, keyType, days: rootDays };
  }
  const duration = (flag: string, envName: string, fallback: string) => {
    const { value, source } = pick(str(values[flag]), env, envName, fallback);
    return problems.try(
      () => parseDurationSeconds(value, source === 'flag' ? `--${flag}` : source),
      parseDurationSeconds(fallback, fallback),
    );
  };
  const ttl = {
    defaultSeconds: duration('workload-cert-ttl', 'DEFAULT_WORKLOAD_CERT_TTL', '24h'),
    maxSeconds: duration('max-workload-cert-ttl', 'MAX_WORKLOAD_CERT_TTL', '2160h'),
  };
  if (ttl.defaultSeconds > ttl.maxSeconds)
    problems.add(
      `the default workload certificate TTL (${ttl.defaultSeconds}s) is longer than the maximum (${ttl.maxSeconds}s)`,
    );
  const listen = problems.try(
    () => parseHostPort(pick(str(values.listen), env, 'MESHCA_LISTEN', '127.0.0.1:15012').value, '--listen'),
    { host: '127.0.0.1', port: 15012 },
  );
  const monitoringText = pick(str(values.monitoring), env, 'MESHCA_MONITORING', '127.0.0.1:15014').value;
  const monitoring =
    monitoringText === 'off' ? null : problems.try(() => parseHostPort(monitoringText, '--monitoring'), null);
  const jwtRule = pickOptional(str(values['jwt-rule']), env, 'JWT_RULE');
  const trustedIssuers = jwtRule
    ? problems.try(
        () =>
          parseJwtRules(jwtRule, values['jwt-rule'] ? '--jwt-rule' : 'JWT_RULE', (p) =>
            readFileSync(resolve(ctx.cwd, p), 'utf8'),
          ).map((rule) => (rule.jwksFile ? { ...rule, jwksFile: resolve(ctx.cwd, rule.jwksFile) } : rule)),
        [],
      )
    : [];
  const audienceFlags = list(values.audience);
  const audiences =
    audienceFlags.length > 0
      ? audienceFlags
      : (env.TOKEN_AUDIENCES || env.TOKEN_AUDIENCE || 'istio-ca')
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean);
  const logLevel = pick(str(values['log-level']), env, 'MESHCA_LOG_LEVEL', 'info').value as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    problems.add(`--log-level ${logLevel}: use debug, info, warn or error`);
  const workersText = pick(str(values.workers), env, 'MESHCA_WORKERS', '1');
  const workers = problems.try(() => parseWorkers(workersText.value, workersText.source), 1);
  const limitFlags = list(values.limit);
  const limitItems = limitFlags.length
    ? limitFlags
    : (env.MESHCA_LIMITS ?? '').split(',').filter((item) => item.trim() !== '');
  const limits = parseLimits(limitItems, limitFlags.length ? '--limit' : 'MESHCA_LIMITS', (m) =>
    problems.add(m),
  );
  const kubernetes = resolveKubernetesSettings(values, ctx, problems);
  if (kubernetes && cacertsFlag !== undefined)
    problems.add(
      `--cacerts reads a directory, but the Kubernetes home keeps the plugged-in bundle in Secret ${kubernetes.namespace}/cacerts: create it with "kubectl create secret generic cacerts -n ${kubernetes.namespace} --from-file=…" and drop --cacerts`,
    );
  if (kubernetes && workers > 1)
    problems.add('--workers applies to the data-directory home; in Kubernetes run more replicas instead');
  const kubeControllers = {
    csrSignerNames: resolveCsrSignerNames(values, ctx, problems, kubernetes !== undefined),
    workloadSecrets: resolveWorkloadSecrets(values, ctx, problems, kubernetes !== undefined),
  };
  const issuanceLog = resolveIssuanceLog(values, ctx, dataDir, kubernetes !== undefined, problems);
  const dashboard = resolveDashboardSettings(values, ctx, monitoring !== null, problems);
  const caKey = resolveServeCaKey(values, ctx, problems, kubernetes !== undefined);
  if (caKey) ca = { ...ca, caKey };
  problems.throwIfAny('serve');
  // The flag is well formed but the CA files are not there: bad CA files, exit 3 like a broken bundle.
  if (cacertsProblem) throw configError('CLI_CACERTS_MISSING', cacertsProblem);
  return Object.freeze({
    dataDir,
    ca,
    listen,
    monitoring,
    trustDomain,
    ttl,
    hosts: list(values.host),
    trustedIssuers,
    audiences,
    logLevel,
    workers,
    mesh,
    limits,
    rootRenewal: { gracePercent, days: rootDays, checkIntervalMs },
    kube: kubernetes,
    kubeControllers,
    issuanceLog,
    dashboard,
  });
}

const MAX_WORKERS = 256;

/** A whole number of workers, or `auto`: the CPUs this process may run on (affinity included). */
function parseWorkers(text: string, source: string): number {
  const where = source === 'flag' ? '--workers' : source;
  if (text.trim() === 'auto') return availableParallelism();
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < 1 || n > MAX_WORKERS)
    throw invalidInput(
      'CLI_BAD_WORKERS',
      `${where}: "${text}" is not a number of workers; use a whole number from 1 to ${MAX_WORKERS}, or auto`,
    );
  return n;
}

/** The embedded default: state in the data directory. */
async function startDataDirectoryCaServer(settings: ServeSettings, log: Logger) {
  // Once, in this process (workers return above): leftovers of interrupted writes go, loose modes are warned about.
  await prepareDataDirectory({ dataDir: settings.dataDir, ca: settings.ca, log });
  const { kube: _kube, ...options } = settings;
  return startCaServer({ ...options, log });
}

/** The Kubernetes home: state in the cluster's objects; the data directory is not used. */
async function startKubernetesCaServer(settings: ServeSettings, kube: KubernetesSettings, log: Logger) {
  const selfSigned = settings.ca.kind === 'self-signed' ? settings.ca : undefined;
  const home = await openKubernetesHome({
    from: kube.from,
    namespace: kube.namespace,
    trustDomain: settings.trustDomain,
    keyType: selfSigned?.keyType ?? 'ec-p256',
    days: settings.rootRenewal.days,
    audiences: settings.audiences,
    leaseDurationMs: kube.leaseDurationMs,
    tokenReviewTimeoutMs: kube.tokenReviewTimeoutMs,
    identity: kube.identity,
    istiodTls: kube.istiodTls,
    tokenCheck: kube.tokenCheck,
    csrSigner: csrSignerOf(settings),
    workloadSecrets: settings.kubeControllers.workloadSecrets && {
      ...settings.kubeControllers.workloadSecrets,
      ttlSeconds: settings.ttl.defaultSeconds,
    },
    rootRenewal: settings.rootRenewal,
    log,
  });
  try {
    const { kube: _kube, ...options } = settings;
    return await startCaServer({ ...options, ca: home.caMode, kubernetes: home, log });
  } catch (err) {
    await home.close();
    throw err;
  }
}

function csrSignerOf({ kubeControllers: { csrSignerNames }, ttl }: ServeSettings) {
  if (!csrSignerNames) return undefined;
  return {
    signerNames: csrSignerNames,
    policy: { defaultTtlSeconds: ttl.defaultSeconds, maxTtlSeconds: ttl.maxSeconds },
  };
}

export async function runServe(argv: string[], ctx: CliContext): Promise<number> {
  // A worker runs the same command line; its settings come from the primary, resolved once there.
  if (isServeWorker()) return runServeWorker();
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const settings = await resolveServeSettings(args.values, ctx);
  const log = createLogger({ level: settings.logLevel, component: 'ca' });
  const { monitoring, workers, kube: _kube, ...workerSettings } = settings;
  // Before any file is made: a taken port must not leave a new root and keys behind.
  await ensurePortsFree([
    { flag: '--listen', ...settings.listen },
    ...(monitoring ? [{ flag: '--monitoring', ...monitoring }] : []),
  ]);
  // Listening before the server announces itself: a SIGTERM sent as soon as the "serving" line
  // appears must drain and exit 0, not kill the process with the default handler.
  let stopRequested: (signal: string) => void = () => {};
  const stopSignal = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  const onTerm = () => stopRequested('SIGTERM');
  const onInt = () => stopRequested('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  let server: { reload(): Promise<boolean>; close(): Promise<void> };
  try {
    server = settings.kube
      ? await startKubernetesCaServer(settings, settings.kube, log)
      : workers > 1
        ? await startServeCluster({ workers, settings: workerSettings, monitoring, log })
        : await startDataDirectoryCaServer(settings, log);
  } catch (err) {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    throw err;
  }
  const onHup = () => {
    log.info('SIGHUP: reloading the CA bundle', { event: 'sighup' });
    server.reload().then(
      (changed) =>
        log.info(
          changed ? 'SIGHUP: reloaded; the new bundle is in service' : 'SIGHUP: reloaded; nothing changed',
          {
            event: 'sighup-done',
            changed,
          },
        ),
      (err: Error) =>
        log.error('SIGHUP: reload failed; the last good bundle keeps serving', {
          event: 'sighup-failed',
          reason: err.message,
        }),
    );
  };
  process.on('SIGHUP', onHup);
  const signal = await stopSignal;
  log.info(`${signal}: draining in-flight requests and stopping`, { event: 'shutdown' });
  await server.close().catch(() => {});
  process.off('SIGHUP', onHup);
  log.info('stopped', { event: 'stopped' });
  // Everything was drained and released; a handle a library still holds (an idle keep-alive socket,
  // a watch) must not keep a stopped CA process alive, so it exits shortly after, saying what held it.
  setTimeout(() => {
    log.warn('exiting with handles still open', {
      event: 'exit-forced',
      handles: process.getActiveResourcesInfo(),
    });
    process.exit(0);
  }, 2000).unref();
  return 0;
}
