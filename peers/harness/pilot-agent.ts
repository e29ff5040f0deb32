// Istio's own agent (pilot-agent, built from peers/pilot-agent) as a workload's certificate agent, run
// the way Istio's proxyless mode runs it: no Envoy (DISABLE_ENVOY), the certificate files written to
// OUTPUT_CERTS. This file knows the agent's conventions: its working directory holds the CA's root and
// the service-account token at fixed relative paths, and everything else comes from its environment.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where pilot-agent looks, relative to its working directory (Istio's CitadelCACertPath and token path). */
export const PILOT_AGENT_CA_ROOT = join('var', 'run', 'secrets', 'istio', 'root-cert.pem');
export const PILOT_AGENT_TOKEN = join('var', 'run', 'secrets', 'tokens', 'istio-token');

/** `pilot-agent proxy sidecar`, logging one JSON object per line (so readiness is a log line). */
export const PILOT_AGENT_ARGS: readonly string[] = ['proxy', 'sidecar', '--log_as_json'];

export interface PilotAgentSpec {
  /** The agent's working directory: the CA root and the token go under it (see the constants above). */
  workDir: string;
  /** OUTPUT_CERTS: where the agent writes cert-chain.pem, key.pem and root-cert.pem. */
  outputDir: string;
  /** CA_ADDR: host:port of meshca's gRPC+TLS endpoint. */
  caAddress: string;
  /**
   * Leave CA_ADDR unset, so the agent dials the CA at PROXY_CONFIG's discoveryAddress (istiod's own
   * port, as in a default Istio install): only then does ISTIOD_SAN (`caServerName`) apply.
   */
  caFromDiscoveryAddress?: boolean;
  /** The root(s) the agent trusts for the CA's serving certificate (`meshca root-cert`). */
  caRootPem: string;
  /** The service-account token; undefined leaves no token file, as a pod without a projected token. */
  token: string | undefined;
  namespace: string;
  serviceAccount: string;
  /** PROXY_CONFIG's statusPort: the agent's /healthz/ready and /stats/prometheus. */
  statusPort: number;
  trustDomain?: string;
  /** SECRET_TTL, e.g. `24h`, `30s`. */
  secretTtl?: string;
  /** ISTIO_META_CERT_SIGNER: the signer asked for in registration-authority mode. */
  certSigner?: string;
  /** ISTIO_META_CLUSTER_ID. */
  clusterId?: string;
  /**
   * ISTIOD_SAN: the name the CA's certificate must carry. Istio's agent honours it only when CA_ADDR is
   * unset (see `caFromDiscoveryAddress`); otherwise it checks CA_ADDR's host, and for any host
   * containing "localhost" it checks istiod.istio-system.svc instead.
   */
  caServerName?: string;
  /** Any other variable of Istio's agent (they win over the ones above). */
  env?: Record<string, string>;
}

/** Writes the CA root and the token (0600, it is a credential) where the agent looks for them. */
export async function writePilotAgentFiles(spec: PilotAgentSpec): Promise<void> {
  const root = join(spec.workDir, PILOT_AGENT_CA_ROOT);
  const token = join(spec.workDir, PILOT_AGENT_TOKEN);
  await mkdir(join(root, '..'), { recursive: true, mode: 0o700 });
  await mkdir(join(token, '..'), { recursive: true, mode: 0o700 });
  await mkdir(spec.outputDir, { recursive: true, mode: 0o700 });
  await writeFile(root, spec.caRootPem);
  if (spec.token !== undefined) {
    await writeFile(token, spec.token, { mode: 0o600 });
    await chmod(token, 0o600);
  }
}

/**
 * The agent's whole environment. Only PATH and HOME pass through from ours: a stray KUBECONFIG or
 * CA_ADDR in the caller's shell must not change what the agent does. CLOUD_PLATFORM=none stops it
 * probing cloud metadata addresses, so it sends nothing beyond CA_ADDR.
 */
export function pilotAgentEnv(spec: PilotAgentSpec): Record<string, string> {
  const proxyConfig = [
    `statusPort: ${spec.statusPort}`,
    // Without Envoy the agent never dials xDS; this address matters only as the CA's when CA_ADDR is unset.
    'controlPlaneAuthPolicy: NONE',
    `discoveryAddress: ${spec.caAddress}`,
  ].join('\n');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? spec.workDir,
    CLOUD_PLATFORM: 'none',
    DISABLE_ENVOY: 'true',
    OUTPUT_CERTS: spec.outputDir,
    POD_NAMESPACE: spec.namespace,
    SERVICE_ACCOUNT: spec.serviceAccount,
    TRUST_DOMAIN: spec.trustDomain ?? 'cluster.local',
    PROXY_CONFIG: `${proxyConfig}\n`,
  };
  if (!spec.caFromDiscoveryAddress) env.CA_ADDR = spec.caAddress;
  if (spec.secretTtl) env.SECRET_TTL = spec.secretTtl;
  if (spec.certSigner) env.ISTIO_META_CERT_SIGNER = spec.certSigner;
  if (spec.clusterId) env.ISTIO_META_CLUSTER_ID = spec.clusterId;
  if (spec.caServerName) env.ISTIOD_SAN = spec.caServerName;
  return { ...env, ...spec.env };
}

/** The variables a user sets by hand, in `NAME=value` form, for the demo's printed command. */
export function pilotAgentShownEnv(spec: PilotAgentSpec): string[] {
  const env = pilotAgentEnv(spec);
  delete env.PATH;
  delete env.HOME;
  return Object.entries(env).map(
    ([k, v]) => `${k}=${v.includes('\n') ? `$'${v.replace(/\n/g, '\\n')}'` : v}`,
  );
}

/** The agent's log line for a certificate it fetched and wrote (scope `cache`). */
export function isCertificateGenerated(line: Record<string, unknown>): boolean {
  return line.msg === 'generated new workload certificate';
}
