// A demo workload's pieces, each as the user would start it: its service-account token
// (`meshca token`, Kubernetes' projected token) and its sidecar (`meshca sidecar`, istio-proxy).

import { type GroupProcess, shellWords } from '../peers/harness/processes.js';
import { type DemoContext, meshcaShown, writeDemoFile } from './demo-context.js';
import type { RunningCa } from './start-ca.js';
import { startIstioAgent } from './start-istio-agent.js';

export interface SidecarOptions {
  /** For messages: "httpbin's sidecar". */
  name: string;
  ca: RunningCa;
  tokenFile: string;
  /** Where the agent writes cert-chain.pem, key.pem and root-cert.pem (relative to the demo dir). */
  certDir: string;
  /**
   * A mesh port in front of the app on 127.0.0.1:appPort, with its PeerAuthentication file or a fixed
   * mode; `port` keeps a restarted sidecar on its old address, as a Service keeps a pod's (default: any).
   */
  inbound?: {
    appPort: number;
    config?: string;
    mtlsMode?: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
    port?: number;
  };
  /** Plaintext ports for the app to call, reaching `port` over mutual TLS and checking `spiffeId`. */
  outbound?: { name: string; port: number; spiffeId: string }[];
}

export interface RunningSidecar {
  readonly spiffeId: string;
  readonly certDir: string;
  readonly inboundPort: number | undefined;
  readonly outboundPorts: Readonly<Record<string, number>>;
  readonly process: GroupProcess;
}

/** `meshca sample httpbin --port 0 &`: the application behind httpbin's sidecar; resolves with its port. */
export async function startHttpbinApp(ctx: DemoContext): Promise<number> {
  ctx.report.command('meshca sample httpbin --port 0 &');
  const app = await ctx.group.startMeshca(['sample', 'httpbin', '--port', '0'], {
    name: 'httpbin',
    ready: (l) => l.msg === 'httpbin listening',
  });
  const port = Number(app.readyLine.port);
  ctx.report.result(`httpbin (the application) listening on 127.0.0.1:${port} (pid ${app.pid})`);
  return port;
}

/** `meshca token … > FILE`; the token is a credential, so the file is private. */
export async function mintToken(
  ctx: DemoContext,
  opts: { ca: RunningCa; namespace: string; serviceAccount: string; file: string },
): Promise<string> {
  const args = ['token', '-n', opts.namespace, '--service-account', opts.serviceAccount];
  const result = await meshcaShown(ctx, [...args, '--data-dir', opts.ca.dataDir], {
    redirect: opts.file,
    quietOutput: true,
  });
  await writeDemoFile(ctx, opts.file, result.stdout, 0o600);
  ctx.report.result(
    `a service-account JWT for system:serviceaccount:${opts.namespace}:${opts.serviceAccount} from ${opts.ca.name}'s issuer`,
  );
  return opts.file;
}

/**
 * `meshca sidecar … &`: the agent and the proxy in one process; with the demo's `--agent istio`,
 * Istio's pilot-agent keeps the files and the sidecar runs `--no-agent`, serving what it wrote.
 */
export async function startSidecar(ctx: DemoContext, opts: SidecarOptions): Promise<RunningSidecar> {
  const istioAgent = ctx.istioAgent
    ? await startIstioAgent(ctx, {
        name: opts.name.replace(/sidecar$/, 'agent'),
        bin: ctx.istioAgent,
        ca: opts.ca,
        tokenFile: opts.tokenFile,
        certDir: opts.certDir,
      })
    : undefined;
  const args = istioAgent
    ? ['sidecar', '--no-agent', '--output-dir', opts.certDir]
    : [
        'sidecar',
        '--ca-addr',
        opts.ca.address,
        '--ca-root',
        opts.ca.rootCert,
        '--token-file',
        opts.tokenFile,
        '--output-dir',
        opts.certDir,
        '--status-port',
        'off',
      ];
  if (opts.inbound) {
    args.push('--inbound-port', String(opts.inbound.port ?? 0), '--app-port', String(opts.inbound.appPort));
    if (opts.inbound.config !== undefined) args.push('--config', opts.inbound.config);
    if (opts.inbound.mtlsMode !== undefined) args.push('--mtls-mode', opts.inbound.mtlsMode);
  }
  for (const o of opts.outbound ?? [])
    args.push('--outbound', `${o.name}=0:127.0.0.1:${o.port}:${o.spiffeId}`);
  ctx.report.command(`meshca ${shellWords(args)} &`);
  const process = await ctx.group.startMeshca(args, {
    name: opts.name,
    ready: (l) => l.msg === 'sidecar ready',
  });
  // Ready can come before the first issuance when the directory still holds an earlier run's files;
  // with pilot-agent, the proxy's loading of the files it wrote is what counts.
  const issued = await process.waitForLog((l) =>
    istioAgent ? l.event === 'credentials_loaded' || l.event === 'credentials_rotated' : l.event === 'issued',
  );
  const spiffeId = String(issued?.spiffeId ?? '?');
  const inboundPort =
    typeof process.readyLine.inboundPort === 'number' ? process.readyLine.inboundPort : undefined;
  const outboundPorts = (process.readyLine.outboundPorts ?? {}) as Record<string, number>;
  const ports = [
    ...(inboundPort === undefined
      ? []
      : [`mesh port 127.0.0.1:${inboundPort} → app port ${opts.inbound!.appPort}`]),
    ...Object.entries(outboundPorts).map(([name, port]) => `outbound "${name}" on 127.0.0.1:${port}`),
  ];
  const from = istioAgent ? `pilot-agent's files` : `certificate for ${spiffeId} from ${opts.ca.name}`;
  ctx.report.result(
    `${opts.name} ready (pid ${process.pid}): ${from} in ${opts.certDir}/; ${ports.join(', ')}`,
  );
  return { spiffeId, certDir: opts.certDir, inboundPort, outboundPorts, process };
}
