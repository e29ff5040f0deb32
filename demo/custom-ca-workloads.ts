// Step 3 of the custom-CA demo (and the restarts of step 5): httpbin and sleep in a namespace, each
// with a token and a sidecar whose certificate the CA has the namespace's signer issue.
import { type DemoContext, inOrder } from './demo-context.js';
import type { RunningCa } from './start-ca.js';
import { mintToken, type RunningSidecar, startHttpbinApp, startSidecar } from './start-workload.js';

/** Istio's default, and the task applies no PeerAuthentication: a refusal is the client's own verdict. */
export const MTLS_MODE = 'PERMISSIVE';

export interface HttpbinDeployment {
  namespace: string;
  appPort: number;
  httpbinToken: string;
  sleepToken: string;
  httpbin: RunningSidecar;
}

export interface Upstream {
  /** The outbound port's name: "httpbin.foo", as sleep would say http://httpbin.foo:8000. */
  name: string;
  port: number;
  spiffeId: string;
}

/** Which signer the CA used for `sidecar`'s current certificate, from the CA's own log. */
async function reportSigner(ctx: DemoContext, ca: RunningCa, sidecar: RunningSidecar): Promise<string> {
  const issued = sidecar.process.logs.filter((l) => l.event === 'issued').at(-1);
  const line = await ca.process.waitForLog(
    (l) => l.msg === 'certificate issued' && l.serial === issued?.serial,
    5_000,
  );
  const signer = String(line.signer);
  ctx.report.result(`the CA had ${sidecar.spiffeId} signed by ${signer}`);
  return signer;
}

export async function startHttpbinSidecar(
  ctx: DemoContext,
  o: { ca: RunningCa; namespace: string; appPort: number; tokenFile: string; port?: number },
): Promise<RunningSidecar> {
  const sidecar = await startSidecar(ctx, {
    name: `httpbin.${o.namespace}'s sidecar`,
    ca: o.ca,
    tokenFile: o.tokenFile,
    certDir: `${o.namespace}/httpbin`,
    inbound: { appPort: o.appPort, mtlsMode: MTLS_MODE, ...(o.port ? { port: o.port } : {}) },
  });
  await reportSigner(ctx, o.ca, sidecar);
  return sidecar;
}

export async function startSleepSidecar(
  ctx: DemoContext,
  o: { ca: RunningCa; namespace: string; tokenFile: string; upstreams: Upstream[] },
): Promise<RunningSidecar> {
  const sidecar = await startSidecar(ctx, {
    name: `sleep.${o.namespace}'s sidecar`,
    ca: o.ca,
    tokenFile: o.tokenFile,
    certDir: `${o.namespace}/sleep`,
    outbound: o.upstreams,
  });
  await reportSigner(ctx, o.ca, sidecar);
  return sidecar;
}

/** httpbin (the app and its sidecar) and sleep's token in `namespace`; sleep's sidecar comes later. */
export async function deployHttpbin(
  ctx: DemoContext,
  o: { ca: RunningCa; namespace: string },
): Promise<HttpbinDeployment> {
  const { ca, namespace } = o;
  const token = (serviceAccount: string) => (c: DemoContext) =>
    mintToken(c, { ca, namespace, serviceAccount, file: `${namespace}/${serviceAccount}.jwt` });
  const [appPort, httpbinToken, sleepToken] = await inOrder(
    ctx,
    startHttpbinApp,
    token('httpbin'),
    token('sleep'),
  );
  const httpbin = await startHttpbinSidecar(ctx, { ca, namespace, appPort, tokenFile: httpbinToken });
  return { namespace, appPort, httpbinToken, sleepToken, httpbin };
}

/** Every httpbin as an outbound port of a sleep, named the way sleep addresses it. */
export function upstreamsOf(deployments: readonly HttpbinDeployment[]): Upstream[] {
  return deployments.map((d) => ({
    name: `httpbin.${d.namespace}`,
    port: d.httpbin.inboundPort!,
    spiffeId: d.httpbin.spiffeId,
  }));
}
