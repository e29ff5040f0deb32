// `meshca sidecar`: the istio-proxy container in one process — the agent keeping the workload's
// certificate fresh, and the mutual-TLS proxy serving it on the mesh port and to its upstreams.
import { resolve } from 'node:path';
import { startAgent } from '../agent/agent.js';
import { invalidInput } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { loadMeshConfig } from '../mesh/load-mesh-config.js';
import { peerAuthenticationMode } from '../mesh/peer-authentication-mode.js';
import type { MeshConfig } from '../mesh/types.js';
import { watchMeshConfig } from '../mesh/watch-mesh-config.js';
import { parseWorkloadId } from '../pki/spiffe-id.js';
import type { MtlsMode, OutboundOptions } from '../proxy/sidecar.js';
import { startSidecar } from '../proxy/sidecar.js';
import { watchWorkloadCredentials } from '../proxy/workload-credentials.js';
import { agentSpec, resolveAgentSettings } from './agent.js';
import { type CommandSpec, list, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { pick, pickOptional, SettingsProblems } from './settings.js';
import { waitForStopSignal } from './signals.js';

const { once: _once, ...agentOptions } = agentSpec.options;

const spec: CommandSpec = {
  name: 'sidecar',
  summary:
    "a workload's sidecar: the agent plus a mutual-TLS proxy (inbound mesh port, plaintext outbound ports)",
  usage:
    'meshca sidecar --output-dir DIR --token-file FILE --ca-root FILE [--inbound-port N --app-port N] [--outbound NAME=PORT:HOST:PORT[:SPIFFE-ID]]… [options]\n       meshca sidecar --no-agent --output-dir DIR [--inbound-port N --app-port N] [--outbound …]…',
  options: {
    ...agentOptions,
    'inbound-port': { type: 'string' },
    'inbound-host': { type: 'string' },
    'app-port': { type: 'string' },
    'mtls-mode': { type: 'string' },
    config: { type: 'string' },
    label: { type: 'string', multiple: true },
    'trust-domains': { type: 'string' },
    outbound: { type: 'string', multiple: true },
    'no-agent': { type: 'boolean' },
  },
  optionHelp: [
    '--inbound-port N            the mesh port other workloads call (0 picks one); needs --app-port',
    '--inbound-host H            address of the mesh port (default 127.0.0.1)',
    '--app-port N                the application on 127.0.0.1 that inbound requests go to',
    '--config FILE|DIR           PeerAuthentication documents (security.istio.io/v1beta1), watched; default mode PERMISSIVE',
    '--mtls-mode MODE            STRICT, PERMISSIVE or DISABLE, instead of --config',
    "--label K=V                 this workload's labels, for PeerAuthentication selectors (repeatable)",
    "--trust-domains A,B         peers accepted inbound (default: the workload's own trust domain)",
    '--outbound NAME=PORT:HOST:PORT[:SPIFFE-ID]   a plaintext port on 127.0.0.1 that reaches HOST:PORT over mutual TLS,',
    "                            checking the server's SPIFFE ID when given (repeatable; PORT 0 picks one)",
    '--no-agent                  run only the proxy, serving the files another agent keeps in --output-dir',
    "                            (Istio's pilot-agent with OUTPUT_CERTS); the agent options below do not apply",
    'Agent options (see "meshca agent --help"):',
    ...agentSpec.optionHelp.filter((l) => !l.startsWith('--once')),
  ],
  examples: [
    'meshca sidecar --token-file httpbin.jwt --ca-root root.pem --output-dir certs/httpbin --inbound-port 15006 --app-port 8000 --mtls-mode STRICT',
    'meshca sidecar --token-file sleep.jwt --ca-root root.pem --output-dir certs/sleep --outbound httpbin=15001:127.0.0.1:15006:spiffe://cluster.local/ns/foo/sa/httpbin',
    'curl http://127.0.0.1:15001/headers',
    'meshca sidecar --no-agent --output-dir certs/httpbin --inbound-port 15006 --app-port 8000   # files from pilot-agent',
  ],
};

const MODES: readonly MtlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];

/** The agent's own options: meaningless with --no-agent, so giving one is a mistake worth naming. */
const AGENT_ONLY = Object.keys(agentOptions).filter((o) => o !== 'output-dir' && o !== 'log-level');

function port(text: string, name: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535)
    throw invalidInput('CLI_BAD_PORT', `${name} ${text} is not a port number`);
  return Number(text);
}

/** `httpbin=15001:127.0.0.1:15006:spiffe://cluster.local/ns/foo/sa/httpbin` */
export function parseOutbound(text: string): OutboundOptions {
  const match = /^([A-Za-z0-9._-]+)=(\d+):([^:]+):(\d+)(?::(spiffe:\/\/\S+))?$/.exec(text);
  if (!match) {
    throw invalidInput(
      'CLI_BAD_OUTBOUND',
      `--outbound ${text}: write NAME=LISTENPORT:HOST:PORT[:SPIFFE-ID], e.g. httpbin=15001:127.0.0.1:15006:spiffe://cluster.local/ns/foo/sa/httpbin`,
    );
  }
  return {
    name: match[1]!,
    listenPort: port(match[2]!, '--outbound'),
    upstreamHost: match[3]!,
    upstreamPort: port(match[4]!, '--outbound'),
    ...(match[5] ? { expectedSpiffeId: match[5] } : {}),
  };
}

export async function runSidecar(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const v = args.values;
  const problems = new SettingsProblems();
  const noAgent = v['no-agent'] === true;
  const agentSettings = noAgent ? undefined : resolveAgentSettings(v, ctx);
  if (noAgent) {
    for (const option of AGENT_ONLY.filter((o) => v[o] !== undefined))
      problems.add(
        `--${option} is an agent option; with --no-agent another agent keeps the files in --output-dir`,
      );
  }
  const outputDirText = pickOptional(str(v['output-dir']), ctx.env, 'OUTPUT_CERTS');
  if (noAgent && !outputDirText)
    problems.add('--output-dir (or OUTPUT_CERTS) is required: the directory the other agent writes to');
  const outputDir = agentSettings?.options.outputDir ?? resolve(ctx.cwd, outputDirText ?? '.');
  const logLevel =
    agentSettings?.logLevel ??
    (pick(str(v['log-level']), ctx.env, 'MESHCA_LOG_LEVEL', 'info').value as LogLevel);
  const outbound = list(v.outbound)
    .map((o) => problems.try(() => parseOutbound(o), undefined))
    .filter((o): o is OutboundOptions => o !== undefined);
  const inboundPortText = str(v['inbound-port']);
  const appPortText = str(v['app-port']);
  if ((inboundPortText === undefined) !== (appPortText === undefined))
    problems.add('--inbound-port and --app-port go together');
  const inboundPort =
    inboundPortText === undefined
      ? undefined
      : problems.try(() => port(inboundPortText, '--inbound-port'), 0);
  const appPort =
    appPortText === undefined ? undefined : problems.try(() => port(appPortText, '--app-port'), 0);
  const fixedMode = str(v['mtls-mode'])?.toUpperCase() as MtlsMode | undefined;
  if (fixedMode && !MODES.includes(fixedMode))
    problems.add(`--mtls-mode ${fixedMode}: use STRICT, PERMISSIVE or DISABLE`);
  const configPath = str(v.config) ? resolve(ctx.cwd, str(v.config)!) : undefined;
  if (configPath && fixedMode) problems.add('give either --config or --mtls-mode, not both');
  const labels = Object.fromEntries(
    list(v.label).map((l) => {
      const [k, ...rest] = l.split('=');
      if (!k || rest.length === 0) problems.add(`--label ${l}: write KEY=VALUE`);
      return [k, rest.join('=')];
    }),
  );
  problems.throwIfAny('sidecar');
  let mesh: MeshConfig | undefined = configPath ? (await loadMeshConfig(configPath)).config : undefined;

  const log = createLogger({
    level: logLevel,
    component: 'sidecar',
    write: (line) => ctx.err(line),
  });
  const agent = agentSettings
    ? await startAgent({ ...agentSettings.options, log: log.child({ part: 'agent' }) })
    : undefined;
  // The namespace comes from the issued identity (it may only be known from the token's claims).
  const namespace = () => {
    const spiffeId = agent?.current()?.spiffeId ?? credentials.current()?.spiffeId;
    return spiffeId
      ? parseWorkloadId(spiffeId).namespace
      : (agentSettings?.options.namespace ?? ctx.env.POD_NAMESPACE ?? 'default');
  };
  const watch = configPath
    ? watchMeshConfig(configPath, {
        onChange: (result) => {
          mesh = result.config;
          log.info('PeerAuthentication reloaded', { event: 'config-reloaded' });
        },
        onError: (err) =>
          log.error('PeerAuthentication refused; the last good policy stays', {
            event: 'config-reload-failed',
            reason: err.message,
          }),
      })
    : undefined;
  const credentials = watchWorkloadCredentials({
    dir: outputDir,
    log: (e) => log.info('credentials', e as Record<string, unknown>),
  });
  const trustDomains = str(v['trust-domains'])
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const sidecar = await startSidecar({
    credentials,
    inbound:
      inboundPort !== undefined && appPort !== undefined
        ? {
            port: inboundPort,
            host: str(v['inbound-host']) ?? '127.0.0.1',
            appPort,
            // Read per connection, so a PeerAuthentication change applies to the next one.
            mode: () =>
              fixedMode ??
              (mesh
                ? peerAuthenticationMode(mesh, { namespace: namespace(), labels, port: appPort })
                : 'PERMISSIVE'),
            ...(trustDomains ? { trustDomains } : {}),
          }
        : undefined,
    outbound,
    log: (event) => log.info('proxy', event as Record<string, unknown>),
  });
  log.info('sidecar ready', {
    event: 'ready',
    inboundPort: sidecar.inboundPort,
    outboundPorts: sidecar.outboundPorts,
    statusPort: agent?.statusPort,
    agent: agent ? 'meshca' : 'none',
  });
  const signal = await waitForStopSignal();
  log.info(`${signal}: stopping`, { event: 'shutdown' });
  await sidecar.close();
  credentials.close();
  watch?.close();
  await agent?.close();
  return 0;
}
