// Step 6 of the plug-in-CA demo, the task's reason for plugging in a CA at all: clusters whose
// intermediates share a root trust each other's workloads; a CA with another root is refused.
import { callThrough } from './call-through-mesh.js';
import { type DemoContext, inOrder, meshcaShown } from './demo-context.js';
import { startCa } from './start-ca.js';
import { mintToken, startSidecar } from './start-workload.js';

export interface MultiClusterOptions {
  /** httpbin's mesh port in cluster1 and the identity its certificate carries. */
  httpbinPort: number;
  httpbinSpiffeId: string;
}

/** A CA for `cluster` plugged in with `cacerts`, and a sleep in its namespace foo calling httpbin. */
async function sleepInCluster(
  ctx: DemoContext,
  o: MultiClusterOptions & { cluster: string; cacerts: string; caName: string },
) {
  const ca = await startCa(ctx, { name: o.caName, cacerts: o.cacerts, dataDir: `${o.cluster}/istiod` });
  const tokenFile = await mintToken(ctx, {
    ca,
    namespace: 'foo',
    serviceAccount: 'sleep',
    file: `${o.cluster}/foo/sleep.jwt`,
  });
  const sleep = await startSidecar(ctx, {
    name: `${o.cluster}'s sleep sidecar`,
    ca,
    tokenFile,
    certDir: `${o.cluster}/foo/sleep`,
    outbound: [{ name: 'httpbin', port: o.httpbinPort, spiffeId: o.httpbinSpiffeId }],
  });
  const port = sleep.outboundPorts.httpbin!;
  ctx.report.command(
    `curl -s http://127.0.0.1:${port}/html   # ${o.cluster}'s sleep → httpbin in cluster1, through its sidecar`,
  );
  const call = await callThrough(port, '/html');
  ctx.report.result(
    call.status === undefined
      ? `no response: ${call.error}`
      : `HTTP ${call.status}${call.status === 200 ? `, ${call.body.length} bytes of HTML` : `: ${call.body.trim()}`}`,
  );
  return call;
}

/** cluster2: its own intermediate, signed by the same root; its workloads are trusted. */
async function sameRoot(ctx: DemoContext, o: MultiClusterOptions): Promise<void> {
  ctx.report.say('# cluster2: its own intermediate CA, signed by the same root');
  await meshcaShown(ctx, ['certs', 'intermediate', 'cluster2', '--dir', 'certs']);
  const call = await sleepInCluster(ctx, {
    ...o,
    cluster: 'cluster2',
    cacerts: 'certs/cluster2',
    caName: "cluster2's CA",
  });
  ctx.report.check(
    'sleep in cluster2 (certificate from cluster2’s CA) → httpbin in cluster1: HTTP 200',
    call.status === 200,
    call.status === undefined ? `no response: ${call.error}` : `HTTP ${call.status}`,
  );
}

/** cluster3: a hierarchy of its own; neither side trusts the other's root. */
async function otherRoot(ctx: DemoContext, o: MultiClusterOptions): Promise<void> {
  ctx.report.say('\n# cluster3: a CA under an unrelated root (same names, different keys)');
  await meshcaShown(ctx, ['certs', 'root-ca', '--dir', 'other-certs']);
  await meshcaShown(ctx, ['certs', 'intermediate', 'cluster3', '--dir', 'other-certs']);
  const call = await sleepInCluster(ctx, {
    ...o,
    cluster: 'cluster3',
    cacerts: 'other-certs/cluster3',
    caName: "cluster3's CA",
  });
  const verifyFailed = call.body.includes('CERTIFICATE_VERIFY_FAILED');
  ctx.report.check(
    'sleep under an unrelated root → httpbin in cluster1: refused with CERTIFICATE_VERIFY_FAILED',
    call.status !== 200 && verifyFailed,
    call.status === undefined
      ? `no response: ${call.error}`
      : `HTTP ${call.status}${verifyFailed ? ', CERTIFICATE_VERIFY_FAILED' : ''}`,
  );
}

/** Both clusters at once (they share nothing but httpbin), printed one after the other. */
export async function runMultiCluster(ctx: DemoContext, o: MultiClusterOptions): Promise<void> {
  await inOrder(
    ctx,
    (c) => sameRoot(c, o),
    (c) => otherRoot(c, o),
  );
}
