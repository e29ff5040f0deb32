// Istio's task "Custom CA Integration using Kubernetes CSR", literally, against a real API server and
// a real cert-manager: three self-signed CA ClusterIssuers (istio-system, foo, bar), their roots
// exported with the task's own pipeline, the task's istio.yaml (EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API,
// CERT_SIGNER_DOMAIN, PILOT_CERT_PROVIDER=k8s.io/clusterissuers.cert-manager.io/istio-system) and
// ProxyConfigs for foo and bar. meshca runs with its chart's RBAC (kubernetesCsr.signerNames), gets
// its own serving certificate from the istio-system issuer and forwards every workload CSR as a
// CertificateSigningRequest. Then sleep.foo → httpbin.foo works and sleep.foo → httpbin.bar fails
// with CERTIFICATE_VERIFY_FAILED.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callThrough } from '../../demo/call-through-mesh.js';
import {
  indentPem,
  istioYamlTemplate,
  proxyConfigYaml,
  TASK_CA_CERTIFICATES,
} from '../../demo/custom-ca-yaml.js';
import { type CertManagerCluster, startCertManagerCluster } from '../support/cert-manager.js';
import { REPO_DIR } from '../support/cli.js';
import { CA_NAMESPACE, installMeshca, startReplica, workloadToken } from '../support/meshca-in-kubernetes.js';
import { type MeshcaProcess, type ServeProcess, startMeshca } from '../support/meshca-process.js';
import { openssl } from '../support/openssl.js';
import { peerBinary } from '../support/peers.js';
import { waitFor } from '../support/wait-for.js';

const SIGNERS = ['istio-system', 'foo', 'bar'].map((n) => `clusterissuers.cert-manager.io/${n}`);
const sidecarReady = (l: Record<string, unknown>) => l.msg === 'sidecar ready';

describe("Istio's Kubernetes CSR task with cert-manager", { timeout: 600_000 }, () => {
  let env: CertManagerCluster;
  let dir: string;
  let ca: ServeProcess;
  const roots = new Map<string, string>();
  const processes: MeshcaProcess[] = [];

  /** The task's export, as typed: the issuer's secretName, its Secret's ca.crt, base64 -d. */
  async function exportRoot(issuer: string): Promise<string> {
    const kubectl = peerBinary('kubernetes', 'kubectl');
    return new Promise((resolve, reject) =>
      execFile(
        'sh',
        [
          '-c',
          `kubectl get clusterissuers ${issuer} -o jsonpath='{.spec.ca.secretName}' | xargs kubectl get secret -n cert-manager -o jsonpath='{.data.ca\\.crt}' | base64 -d`,
        ],
        {
          env: {
            ...process.env,
            PATH: `${dirname(kubectl)}:${process.env.PATH}`,
            KUBECONFIG: env.cluster.kubeconfigPath,
          },
        },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
  }

  before(async () => {
    env = await startCertManagerCluster(['istio-system', 'foo', 'bar']);
    dir = await mkdtemp(join(tmpdir(), 'meshca-csr-ra-'));
    for (const issuer of ['istio-system', 'foo', 'bar']) {
      const root = await exportRoot(issuer);
      assert.equal(root, env.roots.get(issuer), `the task's export of ${issuer}'s root`);
      roots.set(issuer, root);
    }
    // The task's istio.yaml with ISTIOCA, FOOCA and BARCA filled in, and its two ProxyConfigs.
    const vars: Record<string, string> = {
      ISTIOCA: indentPem(roots.get('istio-system')!),
      FOOCA: indentPem(roots.get('foo')!),
      BARCA: indentPem(roots.get('bar')!),
    };
    const istioYaml = istioYamlTemplate(TASK_CA_CERTIFICATES).replace(
      /\$\{(\w+)\}/g,
      (_, v: string) => vars[v]!,
    );
    const configPath = join(dir, 'istio.yaml');
    await writeFile(
      configPath,
      [istioYaml, proxyConfigYaml('foo', 'foo'), proxyConfigYaml('bar', 'bar')].join('---\n'),
    );
    // meshca's RBAC from its chart, with the signers it may approve.
    const kubeconfig = await installMeshca(env.cluster);
    const helm = peerBinary('helm');
    const rbac = execFileSync(
      helm,
      [
        'template',
        'meshca',
        'deploy/helm/meshca',
        '--namespace',
        CA_NAMESPACE,
        '--set',
        `kubernetesCsr.signerNames={${SIGNERS.join(',')}}`,
        '-s',
        'templates/kubernetes-csr-rbac.yaml',
      ],
      { cwd: REPO_DIR, encoding: 'utf8' },
    );
    await env.cluster.kubectl(['apply', '-f', '-'], { input: rbac });
    ca = await startReplica(kubeconfig, 'meshca-0', { args: ['--config', configPath] });
  });

  after(async () => {
    for (const p of processes.reverse()) await p.stop();
    await ca?.stop();
    await env?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves with a certificate from the istio-system ClusterIssuer (PILOT_CERT_PROVIDER)', async () => {
    const rootFile = join(dir, 'istio-ca.pem');
    await writeFile(rootFile, roots.get('istio-system')!);
    const result = await openssl(
      [
        's_client',
        '-connect',
        `127.0.0.1:${ca.grpcPort}`,
        '-servername',
        'istiod.istio-system.svc',
        '-verify_hostname',
        'istiod.istio-system.svc',
        '-CAfile',
        rootFile,
        '-verify_return_error',
        '-alpn',
        'h2',
      ],
      { input: '' },
    );
    assert.match(result.stdout, /Verify return code: 0 \(ok\)/, result.stdout + result.stderr);
  });

  it("meshca's chart RBAC lets it approve exactly the task's signers", async () => {
    // A SubjectAccessReview, as the API server asks one when meshca approves (signer names hold a "/").
    const canI = async (verb: string, resource: string, name?: string, subresource?: string) => {
      const review = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: `system:serviceaccount:${CA_NAMESPACE}:meshca`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${CA_NAMESPACE}`],
          resourceAttributes: { group: 'certificates.k8s.io', verb, resource, name, subresource },
        },
      };
      const allowed = await env.cluster.kubectl(['create', '-f', '-', '-o', 'jsonpath={.status.allowed}'], {
        input: JSON.stringify(review),
      });
      return allowed === 'true' ? 'yes' : 'no';
    };
    for (const signer of SIGNERS) assert.equal(await canI('approve', 'signers', signer), 'yes', signer);
    assert.equal(await canI('approve', 'signers', 'kubernetes.io/kube-apiserver-client'), 'no');
    assert.equal(await canI('approve', 'signers', 'clusterissuers.cert-manager.io/other'), 'no');
    assert.equal(await canI('create', 'certificatesigningrequests'), 'yes');
    assert.equal(await canI('update', 'certificatesigningrequests', 'any', 'approval'), 'yes');
    assert.equal(await canI('update', 'certificatesigningrequests', 'any', 'status'), 'no');
  });

  it('sleep.foo → httpbin.foo works; sleep.foo → httpbin.bar fails with CERTIFICATE_VERIFY_FAILED', async () => {
    const caRoot = join(dir, 'istio-ca.pem');
    await writeFile(caRoot, roots.get('istio-system')!);
    const tokenFile = async (ns: string, sa: string) => {
      const file = join(dir, `${ns}-${sa}.jwt`);
      await writeFile(file, await workloadToken(env.cluster, ns, sa));
      return file;
    };
    const start = async (args: string[], ready = sidecarReady) => {
      const p = await startMeshca(args, ready, { timeoutMs: 90_000 });
      processes.push(p);
      return p;
    };
    const app = await start(['sample', 'httpbin', '--port', '0'], (l) => l.msg === 'httpbin listening');
    const sidecar = async (ns: string, sa: string, extra: string[]) =>
      start([
        'sidecar',
        '--ca-addr',
        `127.0.0.1:${ca.grpcPort}`,
        '--ca-root',
        caRoot,
        '--token-file',
        await tokenFile(ns, sa),
        '--output-dir',
        join(dir, ns, sa),
        '--status-port',
        '0',
        ...extra,
      ]);
    const httpbin = async (ns: string) =>
      sidecar(ns, 'httpbin', ['--inbound-port', '0', '--app-port', String(app.ready.port)]);
    const [httpbinFoo, httpbinBar] = [await httpbin('foo'), await httpbin('bar')];
    const sleepFoo = await sidecar('foo', 'sleep', [
      '--outbound',
      `httpbin.foo=0:127.0.0.1:${httpbinFoo.ready.inboundPort}:spiffe://cluster.local/ns/foo/sa/httpbin`,
      '--outbound',
      `httpbin.bar=0:127.0.0.1:${httpbinBar.ready.inboundPort}:spiffe://cluster.local/ns/bar/sa/httpbin`,
    ]);

    // Each workload's certificate chains to its namespace's ClusterIssuer, and it trusts only that root.
    for (const [ns, sa] of [
      ['foo', 'httpbin'],
      ['bar', 'httpbin'],
      ['foo', 'sleep'],
    ] as const) {
      const rootPem = await readFile(join(dir, ns, sa, 'root-cert.pem'), 'utf8');
      assert.equal(
        new X509Certificate(rootPem).fingerprint256,
        new X509Certificate(roots.get(ns)!).fingerprint256,
      );
      const verify = await openssl([
        'verify',
        '-CAfile',
        join(dir, ns, sa, 'root-cert.pem'),
        join(dir, ns, sa, 'cert-chain.pem'),
      ]);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    }
    // Every CSR meshca made is gone once answered.
    await waitFor(
      'no CSR left',
      async () => (await env.cluster.kubectl(['get', 'csr', '-o', 'name'])).trim() === '',
    );

    const outbound = sleepFoo.ready.outboundPorts as Record<string, number>;
    const toFoo = await callThrough(outbound['httpbin.foo']!, '/headers');
    assert.equal(toFoo.status, 200, toFoo.body || toFoo.error);
    const toBar = await callThrough(outbound['httpbin.bar']!, '/headers');
    assert.equal(toBar.status, 503, toBar.body || toBar.error);
    assert.match(toBar.body, /CERTIFICATE_VERIFY_FAILED/);
  });
});
