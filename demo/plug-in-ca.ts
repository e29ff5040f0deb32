// `meshca demo plug-in-ca`: Istio's "Plug in CA Certificates" task end to end on one machine —
// offline root and intermediates, the CA, two workloads with sidecars, openssl's verdict, clean-up.
import { callThrough } from './call-through-mesh.js';
import { type DemoContext, inOrder, meshcaShown, throwIfInterrupted, writeDemoFile } from './demo-context.js';
import { runMultiCluster } from './multi-cluster.js';
import { type DemoRunOptions, runDemoScenario } from './run-demo-scenario.js';
import { startCa } from './start-ca.js';
import { mintToken, startHttpbinApp, startSidecar } from './start-workload.js';
import { verifyWithOpenssl } from './verify-with-openssl.js';

const TOTAL_STEPS = 7;

const PEER_AUTHENTICATION = `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: foo
spec:
  mtls:
    mode: STRICT
`;

async function scenario(ctx: DemoContext): Promise<void> {
  const { report } = ctx;
  // openssl is the independent judge of step 5; without it there is no point starting anything.
  const openssl = await ctx.group.exec('openssl', ['version']);
  report.say(`Judged by ${openssl.stdout.trim()} and diff, as in the task.`);
  report.step(TOTAL_STEPS, 'Make a root CA and an intermediate CA for cluster1');
  report.say('  (Istio: make -f tools/certs/Makefile.selfsigned.mk root-ca cluster1-cacerts)');
  await meshcaShown(ctx, ['certs', 'root-ca', '--dir', 'certs']);
  await meshcaShown(ctx, ['certs', 'intermediate', 'cluster1', '--dir', 'certs']);
  throwIfInterrupted(ctx);

  report.step(TOTAL_STEPS, "Plug cluster1's certificates into the CA");
  report.say(
    '  (Istio: kubectl create secret generic cacerts -n istio-system --from-file=cluster1/…; istioctl install)',
  );
  const ca = await startCa(ctx, {
    name: "cluster1's CA",
    cacerts: 'certs/cluster1',
    dataDir: 'cluster1/istiod',
  });
  throwIfInterrupted(ctx);

  report.step(TOTAL_STEPS, 'Deploy httpbin and sleep in namespace foo, with sidecars and STRICT mutual TLS');
  report.say(
    '  (Istio: kubectl create ns foo; kubectl apply -f <(istioctl kube-inject -f samples/httpbin/httpbin.yaml) -n foo; the same for sleep;',
  );
  report.say('   kubectl apply -f - <<EOF  (a PeerAuthentication with mtls.mode STRICT))');
  report.command('cat > cluster1/foo/peer-authentication.yaml <<EOF');
  report.result(`${PEER_AUTHENTICATION}EOF`);
  const peerAuthentication = 'cluster1/foo/peer-authentication.yaml';
  await writeDemoFile(ctx, peerAuthentication, PEER_AUTHENTICATION);
  const tokens = { namespace: 'foo', ca };
  const [appPort, httpbinToken, sleepToken] = await inOrder(
    ctx,
    startHttpbinApp,
    (c) => mintToken(c, { ...tokens, serviceAccount: 'httpbin', file: 'cluster1/foo/httpbin.jwt' }),
    (c) => mintToken(c, { ...tokens, serviceAccount: 'sleep', file: 'cluster1/foo/sleep.jwt' }),
  );
  const httpbin = await startSidecar(ctx, {
    name: "httpbin's sidecar",
    ca,
    tokenFile: httpbinToken,
    certDir: 'cluster1/foo/httpbin',
    inbound: { appPort, config: peerAuthentication },
  });
  const meshPort = httpbin.inboundPort!;
  const sleep = await startSidecar(ctx, {
    name: "sleep's sidecar",
    ca,
    tokenFile: sleepToken,
    certDir: 'cluster1/foo/sleep',
    outbound: [{ name: 'httpbin', port: meshPort, spiffeId: httpbin.spiffeId }],
  });
  throwIfInterrupted(ctx);

  report.step(TOTAL_STEPS, 'Send traffic from sleep to httpbin through the mesh');
  report.say('  (Istio: kubectl exec sleep -n foo -- curl http://httpbin.foo:8000/html)');
  const outbound = sleep.outboundPorts.httpbin!;
  report.command(
    `curl -s http://127.0.0.1:${outbound}/html   # sleep → its sidecar → mutual TLS → httpbin's sidecar`,
  );
  const html = await callThrough(outbound, '/html');
  const title = /<title>([^<]*)<\/title>/.exec(html.body)?.[1];
  const h1 = /<h1>([^<]*)<\/h1>/.exec(html.body)?.[1];
  report.result(
    html.status === undefined
      ? `no response: ${html.error}`
      : `HTTP ${html.status}, ${html.body.length} bytes${title ? `: <title>${title}</title> <h1>${h1 ?? ''}</h1> …` : `\n${html.body}`}`,
  );
  report.check(
    'sleep → httpbin through the mesh: HTTP 200 and the Moby-Dick page',
    html.status === 200 && html.body.includes('Moby-Dick'),
    html.status === undefined ? `no response: ${html.error}` : `HTTP ${html.status}`,
  );

  report.command(`curl -s http://127.0.0.1:${outbound}/headers`);
  const headers = await callThrough(outbound, '/headers');
  report.result(headers.status === undefined ? `no response: ${headers.error}` : headers.body);
  const xfcc = /"X-Forwarded-Client-Cert": "([^"\\]*(?:\\.[^"\\]*)*)"/.exec(headers.body)?.[1] ?? '';
  report.check(
    `httpbin sees sleep's identity in X-Forwarded-Client-Cert`,
    headers.status === 200 && xfcc.includes(`URI=${sleep.spiffeId}`),
    xfcc ? `URI=${/URI=([^;,]*)/.exec(xfcc)?.[1] ?? '?'}` : 'no X-Forwarded-Client-Cert header',
  );

  report.command(
    `curl -s http://127.0.0.1:${meshPort}/headers   # plaintext, straight to httpbin's mesh port`,
  );
  const plain = await callThrough(meshPort, '/headers');
  report.result(
    plain.status === undefined ? `refused: ${plain.error}` : `HTTP ${plain.status}\n${plain.body}`,
  );
  report.check(
    "a plaintext call to httpbin's mesh port is refused (STRICT)",
    plain.status === undefined,
    plain.status === undefined ? String(plain.error) : `answered HTTP ${plain.status}`,
  );
  throwIfInterrupted(ctx);

  report.step(TOTAL_STEPS, 'Verify the certificates with openssl');
  report.say(
    '  (Istio: kubectl exec sleep -c istio-proxy -- openssl s_client -showcerts -connect httpbin.foo:8000; diff -s; openssl verify)',
  );
  await verifyWithOpenssl(ctx, {
    meshPort,
    clientCertDir: sleep.certDir,
    cacertsDir: 'certs/cluster1',
    serverSpiffeId: httpbin.spiffeId,
  });
  throwIfInterrupted(ctx);

  report.step(TOTAL_STEPS, 'Multi-cluster: workloads of another cluster call httpbin in cluster1');
  report.say('  (Istio: the same root in every cluster is what multi-cluster meshes need)');
  await runMultiCluster(ctx, { httpbinPort: meshPort, httpbinSpiffeId: httpbin.spiffeId });
}

/** Runs the demo; resolves with its exit code (0 all checks passed, 1 failed, 128+N interrupted). */
export function runPlugInCaDemo(o: DemoRunOptions): Promise<number> {
  return runDemoScenario(o, {
    title: `meshca demo plug-in-ca — Istio's "Plug in CA Certificates" task, on this machine`,
    prefix: 'meshca-demo-',
    totalSteps: TOTAL_STEPS,
    run: scenario,
  });
}
