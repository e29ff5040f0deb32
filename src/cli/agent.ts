// `meshca agent`: the workload agent, Istio's pilot-agent certificate half. Resolves settings
// (flags > Istio's environment variables > defaults), then fetches once (--once) or keeps renewing.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AgentOptions, startAgent } from '../agent/agent.js';
import { fetchCredentials } from '../agent/fetch-credentials.js';
import { invalidInput } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { parseKeyType } from '../pki/keys.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import type { KeyType } from '../pki/types.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { parseHostPort, pick, pickOptional, SettingsProblems } from './settings.js';
import { waitForStopSignal } from './signals.js';

// Where Istio mounts the token and the CA root in a pod, relative to the working directory as
// pilot-agent resolves them, so the same layout works here.
const ISTIO_TOKEN_PATH = './var/run/secrets/tokens/istio-token';
const ISTIO_CA_ROOT_PATH = './var/run/secrets/istio/root-cert.pem';

export const agentSpec: CommandSpec = {
  name: 'agent',
  summary:
    "keep a workload's certificate fresh: cert-chain.pem, key.pem, root-cert.pem, renewed before expiry",
  usage: 'meshca agent --output-dir DIR [--ca-addr HOST:PORT] [--ca-root FILE] [--token-file FILE] [options]',
  options: {
    'ca-addr': { type: 'string' },
    'ca-root': { type: 'string' },
    'token-file': { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    'trust-domain': { type: 'string' },
    'key-type': { type: 'string' },
    ttl: { type: 'string' },
    'grace-period-ratio': { type: 'string' },
    'cert-signer': { type: 'string' },
    'cluster-id': { type: 'string' },
    'output-dir': { type: 'string' },
    'status-port': { type: 'string' },
    once: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  optionHelp: [
    '--output-dir DIR            where cert-chain.pem, key.pem (0600) and root-cert.pem go (env OUTPUT_CERTS; required)',
    '--ca-addr HOST:PORT         the CA (env CA_ADDR, default 127.0.0.1:15012)',
    `--ca-root FILE              roots the CA's certificate chains to, re-read on every request (default ${ISTIO_CA_ROOT_PATH})`,
    `--token-file FILE           service-account token, re-read on every request (default ${ISTIO_TOKEN_PATH})`,
    "-n, --namespace NS          the workload's namespace (env POD_NAMESPACE; default: from the token)",
    "--service-account SA        the workload's service account (env SERVICE_ACCOUNT; default: from the token)",
    '--trust-domain TD           default cluster.local (env TRUST_DOMAIN)',
    '--key-type TYPE             ec-p256 (default), ec-p384, rsa-2048 (env ECC_SIGNATURE_ALGORITHM=ECDSA|RSA, ECC_CURVE=P256|P384)',
    '--ttl DUR                   requested lifetime (env SECRET_TTL, default 24h)',
    '--grace-period-ratio R      renew when this fraction of the lifetime is left (env SECRET_GRACE_PERIOD_RATIO, default 0.5)',
    '--cert-signer NAME          signer to ask for (env ISTIO_META_CERT_SIGNER)',
    '--cluster-id ID             sent as the ClusterID header (env ISTIO_META_CLUSTER_ID)',
    '--status-port [HOST:]PORT   /healthz and /metrics (default 127.0.0.1:15020; 0 picks a port; off)',
    '--once                      fetch one certificate, write the files and exit (non-zero with the reason on failure)',
    '--log-level LEVEL           debug, info (default), warn, error (env MESHCA_LOG_LEVEL)',
  ],
  examples: [
    'meshca root-cert > root.pem && meshca token -n foo --service-account sleep > sleep.jwt',
    'meshca agent --ca-root root.pem --token-file sleep.jwt --output-dir ./sleep-certs',
    'OUTPUT_CERTS=/etc/certs CA_ADDR=ca.internal:15012 SECRET_TTL=12h meshca agent --ca-root root.pem --token-file sleep.jwt',
    'meshca agent --once --ca-root root.pem --token-file sleep.jwt --output-dir ./sleep-certs',
  ],
};

export interface AgentSettings {
  options: Omit<AgentOptions, 'log'>;
  once: boolean;
  logLevel: LogLevel;
}

/** Istio knows ECDSA (with ECC_CURVE) and RSA; no setting at all means meshca's default, EC P-256. */
function keyTypeFromEnv(env: NodeJS.ProcessEnv): KeyType {
  const algorithm = env.ECC_SIGNATURE_ALGORITHM?.trim().toUpperCase();
  if (!algorithm) return 'ec-p256';
  if (algorithm === 'RSA') return 'rsa-2048';
  if (algorithm === 'ECDSA') {
    const curve = (env.ECC_CURVE?.trim() || 'P256').toUpperCase();
    if (curve === 'P256') return 'ec-p256';
    if (curve === 'P384') return 'ec-p384';
    throw invalidInput('AGENT_BAD_KEY_TYPE', `ECC_CURVE=${env.ECC_CURVE}: use P256 or P384 (or --key-type)`);
  }
  throw invalidInput(
    'AGENT_BAD_KEY_TYPE',
    `ECC_SIGNATURE_ALGORITHM=${env.ECC_SIGNATURE_ALGORITHM}: use ECDSA or RSA (or --key-type)`,
  );
}

function statusAddress(text: string): { host: string; port: number } | null {
  if (text === 'off') return null;
  if (/^\d+$/.test(text) && Number(text) <= 65535) return { host: '127.0.0.1', port: Number(text) };
  return parseHostPort(text, '--status-port');
}

/** Every agent setting, resolved and checked together; throws one error listing every problem. */
export function resolveAgentSettings(values: Record<string, unknown>, ctx: CliContext): AgentSettings {
  const env = ctx.env;
  const problems = new SettingsProblems();
  const caAddress = pick(str(values['ca-addr']), env, 'CA_ADDR', '127.0.0.1:15012');
  problems.try(
    () => parseHostPort(caAddress.value, caAddress.source === 'flag' ? '--ca-addr' : 'CA_ADDR'),
    null,
  );
  const file = (flag: string, fallback: string, remedy: string) => {
    const path = resolve(ctx.cwd, str(values[flag]) ?? fallback);
    if (!existsSync(path)) problems.add(`--${flag} ${path} does not exist; ${remedy}`);
    return path;
  };
  const caRootsFile = file('ca-root', ISTIO_CA_ROOT_PATH, 'get the roots with "meshca root-cert > FILE"');
  const tokenFile = file(
    'token-file',
    ISTIO_TOKEN_PATH,
    'write a token with "meshca token -n NS --service-account SA > FILE"',
  );
  const trustDomain = problems.try(
    () => validateTrustDomain(pick(str(values['trust-domain']), env, 'TRUST_DOMAIN', 'cluster.local').value),
    'cluster.local',
  );
  const keyFlag = str(values['key-type']);
  const keyType = problems.try<KeyType>(
    () => (keyFlag !== undefined ? parseKeyType(keyFlag, '--key-type') : keyTypeFromEnv(env)),
    'ec-p256',
  );
  const ttl = pick(str(values.ttl), env, 'SECRET_TTL', '24h');
  const ttlSeconds = problems.try(
    () => parseDurationSeconds(ttl.value, ttl.source === 'flag' ? '--ttl' : ttl.source),
    24 * 3600,
  );
  const ratio = pick(str(values['grace-period-ratio']), env, 'SECRET_GRACE_PERIOD_RATIO', '0.5');
  const graceRatio = Number(ratio.value);
  if (!(graceRatio > 0 && graceRatio < 1)) {
    problems.add(
      `${ratio.source === 'flag' ? '--grace-period-ratio' : ratio.source} "${ratio.value}" must be a number between 0 and 1 (0.5 renews at half the lifetime)`,
    );
  }
  const outputDir = pickOptional(str(values['output-dir']), env, 'OUTPUT_CERTS');
  if (!outputDir)
    problems.add('--output-dir (or OUTPUT_CERTS) is required: where to write the certificate files');
  const once = values.once === true;
  const statusText = str(values['status-port']) ?? '127.0.0.1:15020';
  const status = once ? null : problems.try(() => statusAddress(statusText), null);
  const logLevel = pick(str(values['log-level']), env, 'MESHCA_LOG_LEVEL', 'info').value as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    problems.add(`--log-level ${logLevel}: use debug, info, warn or error`);
  problems.throwIfAny('agent');
  return Object.freeze({
    options: Object.freeze({
      caAddress: caAddress.value,
      caRootsFile,
      tokenFile,
      namespace: pickOptional(str(values.namespace), env, 'POD_NAMESPACE'),
      serviceAccount: pickOptional(str(values['service-account']), env, 'SERVICE_ACCOUNT'),
      trustDomain,
      keyType,
      ttlSeconds,
      graceRatio,
      certSigner: pickOptional(str(values['cert-signer']), env, 'ISTIO_META_CERT_SIGNER'),
      clusterId: pickOptional(str(values['cluster-id']), env, 'ISTIO_META_CLUSTER_ID'),
      outputDir: resolve(ctx.cwd, outputDir ?? '.'),
      statusHost: status?.host,
      statusPort: status ? status.port : null,
    }),
    once,
    logLevel,
  });
}

export async function runAgent(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(agentSpec, argv, ctx.out);
  if (!args) return 0;
  const settings = resolveAgentSettings(args.values, ctx);
  const log = createLogger({ level: settings.logLevel, component: 'agent', write: (line) => ctx.err(line) });
  if (settings.once) {
    const { issued } = await fetchCredentials(settings.options);
    const dir = settings.options.outputDir;
    ctx.out(
      `${issued.spiffeId} serial ${issued.serialHex}, valid until ${issued.notAfter.toISOString()}\n  ${dir}/cert-chain.pem\n  ${dir}/key.pem\n  ${dir}/root-cert.pem\n`,
    );
    return 0;
  }
  const agent = await startAgent({ ...settings.options, log });
  log.info('meshca agent running', {
    ca: settings.options.caAddress,
    dir: settings.options.outputDir,
    status: agent.statusPort === undefined ? 'off' : `${settings.options.statusHost}:${agent.statusPort}`,
  });
  const signal = await waitForStopSignal();
  log.info(`${signal}: stopping`, { event: 'shutdown' });
  await agent.close();
  log.info('stopped', { event: 'stopped' });
  return 0;
}
