// `meshca demo custom-ca --kubernetes`: Istio's "Custom CA Integration using Kubernetes CSR" task
// with the real mechanisms: a Kubernetes API server on this machine, cert-manager with its CSR
// signers, the task's three self-signed CA ClusterIssuers and commands, and meshca in the Kubernetes
// home as istiod's registration authority over the CSR API. Workloads are meshca's sidecars with
// service-account tokens from the API server (no kubelet runs pods here).
import { createTaskIssuers, startCertManager } from '../peers/harness/cert-manager.js';
import { type KubeCluster, startLocalKubeCluster } from '../peers/harness/kube-cluster.js';
import { ensurePeerBinary, type PeerName, peerMissingReason } from '../peers/harness/peer-binary.js';
import { shellWords } from '../peers/harness/processes.js';
import { unavailable } from '../src/index.js';
import { callHttpbin, checkRootCert } from './custom-ca-verify.js';
import { indentPem, istioYamlTemplate, proxyConfigYaml, TASK_CA_CERTIFICATES } from './custom-ca-yaml.js';
import { type DemoContext, throwIfInterrupted, writeDemoFile } from './demo-context.js';
import { type DemoRunOptions, runDemoScenario } from './run-demo-scenario.js';
import type { RunningCa } from './start-ca.js';
import { type RunningSidecar, startHttpbinApp, startSidecar } from './start-workload.js';

const TOTAL_STEPS = 6;
const ISSUERS = ['istio-system', 'foo', 'bar'] as const;
const CA_ROOT_FILE = 'istio-ca-root-cert.pem';

function binary(name: PeerName, bin?: string): string {
  const path = ensurePeerBinary(name, bin);
  if (!path) {
    throw unavailable(
      'DEMO_PEER_BUILD_FAILED',
      `--kubernetes needs the ${name} peer: ${peerMissingReason(name) ?? 'it could not be built'}; install Go 1.26 or newer`,
    );
  }
  return path;
}

/** kubectl as the task types it (shown), run against the demo's cluster. */
function kubectlShown(ctx: DemoContext, cluster: KubeCluster) {
  return async (args: readonly string[], o: { input?: string; timeoutMs?: number; quiet?: boolean } = {}) => {
    ctx.report.command(`kubectl ${shellWords(args)}${o.input !== undefined ? ' -f - <<EOF … EOF' : ''}`);
    const out = await cluster.kubectl(args, o);
    if (!o.quiet && out.trim()) ctx.report.result(out);
    return out;
  };
}

async function startClusterAndCertManager(ctx: DemoContext, started: (c: KubeCluster) => void) {
  const { report } = ctx;
  report.say(
    'Peers (built once from peers/ into .cache/peers; minutes the first time): etcd, kube-apiserver, kubectl, cert-manager.',
  );
  const binaries = {
    etcd: binary('etcd'),
    kubeApiserver: binary('kubernetes', 'kube-apiserver'),
    kubectl: binary('kubernetes', 'kubectl'),
  };
  binary('cert-manager');
  report.command('kube-apiserver … & etcd … &   # a one-node control plane on 127.0.0.1, no kubelet');
  const cluster = await startLocalKubeCluster({ dir: ctx.dir, binaries });
  started(cluster);
  report.result(
    `the API server answers at ${cluster.server} (ready in ${Math.round(cluster.startupMs / 1000)} s)`,
  );
  report.say(
    '  (Istio: helm install cert-manager jetstack/cert-manager … --set featureGates="ExperimentalCertificateSigningRequestControllers=true")',
  );
  const kubectl = (args: readonly string[], o?: { input?: string; timeoutMs?: number }) =>
    cluster.kubectl(args, o);
  const certManager = await startCertManager(ctx.group, { kubeconfig: cluster.kubeconfigPath, kubectl });
  report.result(`cert-manager's controllers running (pid ${certManager.pid}), CSR signers enabled`);
  return cluster;
}

/** The task's export of each issuer's root, as typed: secretName | xargs kubectl get secret | base64 -d. */
async function exportRoots(
  ctx: DemoContext,
  cluster: KubeCluster,
  kubectlBin: string,
): Promise<Map<string, string>> {
  const roots = new Map<string, string>();
  const variables = { 'istio-system': 'ISTIOCA', foo: 'FOOCA', bar: 'BARCA' } as const;
  for (const issuer of ISSUERS) {
    const pipeline = `kubectl get clusterissuers ${issuer} -o jsonpath='{.spec.ca.secretName}' | xargs kubectl get secret -n cert-manager -o jsonpath='{.data.ca\\.crt}' | base64 -d`;
    ctx.report.command(`export ${variables[issuer]}=$(${pipeline} | sed 's/^/        /')`);
    const result = await ctx.group.exec('sh', [
      '-c',
      `PATH=${shellWords([kubectlBin.replace(/\/[^/]+$/, '')])}:$PATH KUBECONFIG=${shellWords([cluster.kubeconfigPath])}; export PATH KUBECONFIG; ${pipeline}`,
    ]);
    roots.set(issuer, result.stdout);
    await writeDemoFile(ctx, `${issuer}-ca.pem`, result.stdout);
    ctx.report.result(
      `${issuer}'s root: ${result.stdout.split('\n').length - 1} lines of PEM, kept in ${issuer}-ca.pem`,
    );
  }
  return roots;
}

export async function runCustomCaKubernetesDemo(o: DemoRunOptions): Promise<number> {
  let cluster: KubeCluster | undefined;
  return runDemoScenario(o, {
    title: `meshca demo custom-ca --kubernetes — Istio's "Custom CA Integration using Kubernetes CSR" task, with a real API server and cert-manager`,
    prefix: 'meshca-demo-custom-ca-k8s-',
    totalSteps: TOTAL_STEPS,
    async run(ctx) {
      const { report } = ctx;
      report.step(TOTAL_STEPS, 'A Kubernetes API server and cert-manager with its CSR signers');
      const api = await startClusterAndCertManager(ctx, (c) => {
        cluster = c;
      });
      const kubectl = kubectlShown(ctx, api);
      throwIfInterrupted(ctx);

      report.step(
        TOTAL_STEPS,
        'Three self-signed CA ClusterIssuers — istio-system, foo, bar — and their roots',
      );
      report.say(
        "  (Istio: kubectl apply -f ./selfsigned-issuer.yaml, the task's issuers for istio-system, foo and bar)",
      );
      await createTaskIssuers((args, opts) => kubectl(args, { ...opts, quiet: true }), ISSUERS);
      report.result('every ClusterIssuer is Ready');
      const roots = await exportRoots(ctx, api, binary('kubernetes', 'kubectl'));
      throwIfInterrupted(ctx);

      report.step(
        TOTAL_STEPS,
        "The task's istio.yaml and ProxyConfigs; meshca as istiod's registration authority",
      );
      const values: Record<string, string> = {
        ISTIOCA: indentPem(roots.get('istio-system')!),
        FOOCA: indentPem(roots.get('foo')!),
        BARCA: indentPem(roots.get('bar')!),
      };
      const yaml = [
        istioYamlTemplate(TASK_CA_CERTIFICATES),
        proxyConfigYaml('foo', 'foo'),
        proxyConfigYaml('bar', 'bar'),
      ]
        .join('---\n')
        .replace(/\$\{(\w+)\}/g, (_, name: string) => values[name] ?? '');
      await writeDemoFile(ctx, 'istio.yaml', yaml);
      report.command(
        'cat > istio.yaml <<EOF … EOF   # EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API, CERT_SIGNER_DOMAIN, PILOT_CERT_PROVIDER, caCertificates; ProxyConfigs foo and bar',
      );
      await kubectl(['create', 'namespace', 'istio-system']);
      const args = [
        'serve',
        '--kubeconfig',
        api.kubeconfigPath,
        '--config',
        'istio.yaml',
        '--data-dir',
        'istiod',
        '--listen',
        '127.0.0.1:0',
        '--monitoring',
        'off',
      ];
      report.say('  (Istio: istioctl install -f ./istio.yaml; here meshca runs with the admin kubeconfig)');
      report.command(`meshca ${shellWords(args)} &`);
      const process = await ctx.group.startMeshca(args, {
        name: 'the CA',
        ready: (l) => l.msg === 'meshca CA serving',
        timeoutMs: 90_000,
      });
      const ra = process.logs.find((l) => l.event === 'ra-mode');
      report.check(
        'the CA forwards CSRs to the Kubernetes CSR API for the three signers',
        Array.isArray(ra?.signers) && ra.signers.length === 3,
        Array.isArray(ra?.signers) ? ra.signers.join(', ') : 'no "ra-mode" line in its log',
      );
      await writeDemoFile(ctx, CA_ROOT_FILE, roots.get('istio-system')!);
      const ca: RunningCa = {
        name: 'the CA',
        address: String(process.readyLine.grpc),
        rootCert: CA_ROOT_FILE,
        dataDir: 'istiod',
        process,
      };
      throwIfInterrupted(ctx);

      report.step(TOTAL_STEPS, 'httpbin and sleep in foo and bar, with sidecars and service-account tokens');
      const appPort = await startHttpbinApp(ctx);
      await kubectl(['create', 'namespace', 'foo']);
      await kubectl(['create', 'namespace', 'bar']);
      const token = async (ns: string, sa: string) => {
        await kubectl(['create', 'serviceaccount', sa, '-n', ns], { quiet: true });
        const jwt = await kubectl(['create', 'token', sa, '-n', ns, '--audience', 'istio-ca'], {
          quiet: true,
        });
        return writeDemoFile(ctx, `${ns}/${sa}.jwt`, jwt.trim(), 0o600);
      };
      const httpbin: Record<string, RunningSidecar> = {};
      for (const ns of ['foo', 'bar']) {
        httpbin[ns] = await startSidecar(ctx, {
          name: `httpbin.${ns}'s sidecar`,
          ca,
          tokenFile: await token(ns, 'httpbin'),
          certDir: `${ns}/httpbin`,
          inbound: { appPort, mtlsMode: 'PERMISSIVE' },
        });
      }
      const sleepFoo = await startSidecar(ctx, {
        name: "sleep.foo's sidecar",
        ca,
        tokenFile: await token('foo', 'sleep'),
        certDir: 'foo/sleep',
        outbound: ['foo', 'bar'].map((ns) => ({
          name: `httpbin.${ns}`,
          port: httpbin[ns]!.inboundPort!,
          spiffeId: httpbin[ns]!.spiffeId,
        })),
      });
      throwIfInterrupted(ctx);

      report.step(TOTAL_STEPS, 'Verify: sleep.foo → httpbin.foo works, sleep.foo → httpbin.bar does not');
      await callHttpbin(ctx, { from: 'sleep.foo', sleep: sleepFoo, to: 'httpbin.foo', expect: 'page' });
      await callHttpbin(ctx, {
        from: 'sleep.foo',
        sleep: sleepFoo,
        to: 'httpbin.bar',
        expect: 'verify-failed',
        why: 'foo and bar have different ClusterIssuers',
      });
      for (const [workload, dir, ns] of [
        ['httpbin.foo', 'foo/httpbin', 'foo'],
        ['httpbin.bar', 'bar/httpbin', 'bar'],
        ['sleep.foo', 'foo/sleep', 'foo'],
      ] as const) {
        await checkRootCert(ctx, { workload, certDir: dir, rootFile: `${ns}-ca.pem`, signer: ns });
      }
      const left = await kubectl(['get', 'csr', '-o', 'name']);
      report.check(
        'meshca deleted every CertificateSigningRequest it made',
        left.trim() === '',
        left.trim() || 'none left',
      );
    },
    async stopOthers(ctx, interrupted) {
      if (!cluster) return;
      if (!interrupted) ctx.report.command('kill %kube-apiserver %etcd');
      await cluster.stop();
    },
  });
}
