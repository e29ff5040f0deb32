// A demo workload's certificate agent when the demo runs with `--agent istio`: Istio's own pilot-agent,
// set up as a pod would have it (the CA's root and the projected token at Istio's paths), run without
// Envoy, writing the files that `meshca sidecar --no-agent` then serves.
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { freePort } from '../peers/harness/free-port.js';
import {
  isCertificateGenerated,
  PILOT_AGENT_ARGS,
  PILOT_AGENT_CA_ROOT,
  PILOT_AGENT_TOKEN,
  type PilotAgentSpec,
  pilotAgentEnv,
  pilotAgentShownEnv,
} from '../peers/harness/pilot-agent.js';
import { type GroupProcess, shellWords } from '../peers/harness/processes.js';
import { configError } from '../src/index.js';
import { type DemoContext, writeDemoFile } from './demo-context.js';
import type { RunningCa } from './start-ca.js';

/** `system:serviceaccount:NS:SA`, the subject of a Kubernetes service-account token. */
async function identityOf(ctx: DemoContext, tokenFile: string): Promise<{ namespace: string; sa: string }> {
  const token = (await readFile(join(ctx.dir, tokenFile), 'utf8')).trim();
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    sub?: string;
  };
  const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(payload.sub ?? '');
  if (!match) throw configError('DEMO_TOKEN_SUBJECT', `${tokenFile}: not a service-account token`);
  return { namespace: match[1]!, sa: match[2]! };
}

/**
 * Starts pilot-agent for the workload whose token is `tokenFile`, in `<certDir>-agent/`, writing its
 * certificates to `certDir`; resolves once it has fetched the first one.
 */
export async function startIstioAgent(
  ctx: DemoContext,
  opts: { name: string; bin: string; ca: RunningCa; tokenFile: string; certDir: string },
): Promise<GroupProcess> {
  const { namespace, sa } = await identityOf(ctx, opts.tokenFile);
  const agentDir = `${opts.certDir}-agent`;
  const spec: PilotAgentSpec = {
    workDir: join(ctx.dir, agentDir),
    // Relative to the agent's working directory, as a user in that directory would write it.
    outputDir: join('..', basename(opts.certDir)),
    caAddress: opts.ca.address,
    caRootPem: await readFile(join(ctx.dir, opts.ca.rootCert), 'utf8'),
    token: await readFile(join(ctx.dir, opts.tokenFile), 'utf8'),
    namespace,
    serviceAccount: sa,
    statusPort: await freePort(),
  };
  const root = join(agentDir, PILOT_AGENT_CA_ROOT);
  const token = join(agentDir, PILOT_AGENT_TOKEN);
  ctx.report.command(
    [
      `mkdir -p ${dirname(root)} ${dirname(token)}`,
      shellWords(['cp', opts.ca.rootCert, root]),
      shellWords(['cp', opts.tokenFile, token]),
    ].join(' && '),
  );
  await writeDemoFile(ctx, root, spec.caRootPem);
  await writeDemoFile(ctx, token, spec.token ?? '', 0o600);
  await mkdir(join(ctx.dir, opts.certDir), { recursive: true, mode: 0o700 });
  ctx.report.command(
    `(cd ${agentDir} && ${pilotAgentShownEnv(spec).join(' ')} \\\n   pilot-agent ${PILOT_AGENT_ARGS.join(' ')}) &`,
  );
  const process = await ctx.group.start(opts.bin, PILOT_AGENT_ARGS, {
    name: opts.name,
    ready: isCertificateGenerated,
    cwd: spec.workDir,
    env: pilotAgentEnv(spec),
    timeoutMs: 60_000,
  });
  ctx.report.result(
    `${opts.name} (pilot-agent, pid ${process.pid}) fetched spiffe://cluster.local/ns/${namespace}/sa/${sa} from ${opts.ca.name} into ${opts.certDir}/`,
  );
  return process;
}
