// meshca in the test cluster as an operator installs it: the plain manifests applied (RBAC and
// all; no kubelet runs the Deployment), then `meshca serve` replicas started as processes with a
// kubeconfig for meshca's own service account, so every call they make goes through its RBAC.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR } from './cli.js';
import type { KubeCluster } from './kube-cluster.js';
import { type ServeProcess, startServe } from './meshca-process.js';

export const MANIFESTS = join(REPO_DIR, 'deploy', 'manifests', 'meshca.yaml');
export const CA_NAMESPACE = 'istio-system';

/** Applies deploy/manifests/meshca.yaml; resolves with a kubeconfig for the meshca service account. */
export async function installMeshca(cluster: KubeCluster): Promise<string> {
  await cluster.kubectl(['apply', '--server-side', '-f', MANIFESTS]);
  const token = (
    await cluster.kubectl(['create', 'token', 'meshca', '-n', CA_NAMESPACE, '--duration=2h'])
  ).trim();
  return cluster.kubeconfigFor(token, 'meshca');
}

/** Makes namespaces and service accounts that do not exist yet. */
export async function ensureServiceAccount(cluster: KubeCluster, namespace: string, name: string) {
  await cluster.kubectlResult(['create', 'namespace', namespace]);
  await cluster.kubectlResult(['create', 'serviceaccount', name, '-n', namespace]);
}

/** The seed task's workload token: `kubectl create token SA -n NS --audience istio-ca`. */
export async function workloadToken(
  cluster: KubeCluster,
  namespace: string,
  serviceAccount: string,
  audience = 'istio-ca',
): Promise<string> {
  await ensureServiceAccount(cluster, namespace, serviceAccount);
  return (
    await cluster.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--audience', audience])
  ).trim();
}

/** One `meshca serve` replica in the Kubernetes home; the lease is short so failover tests are quick. */
export async function startReplica(
  kubeconfig: string,
  name: string,
  opts: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<ServeProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), `meshca-${name}-`));
  return startServe(['--kubeconfig', kubeconfig, '--data-dir', dataDir, ...(opts.args ?? [])], {
    env: { MESHCA_LEADER_LEASE_DURATION: '3s', POD_NAME: name, ...opts.env },
  });
}

/** `kubectl get … -o jsonpath=…` of one value; '' when the object does not exist (yet). */
export async function jsonpath(cluster: KubeCluster, args: string[], path: string): Promise<string> {
  const result = await cluster.kubectlResult(['get', ...args, '-o', `jsonpath=${path}`]);
  return result.code === 0 ? result.stdout : '';
}

/** The trust bundle a namespace's istio-ca-root-cert ConfigMap holds ('' while there is none). */
export const rootConfigMap = (cluster: KubeCluster, namespace: string) =>
  jsonpath(cluster, ['configmap', 'istio-ca-root-cert', '-n', namespace], '{.data.root-cert\\.pem}');

/** An Istio cacerts directory's four files (as `meshca certs cluster1-cacerts` writes them). */
export interface CacertsFiles {
  cert: string;
  key: string;
  root: string;
  chain: string;
}

export const cacertsFiles = (dir: string): CacertsFiles => ({
  cert: join(dir, 'ca-cert.pem'),
  key: join(dir, 'ca-key.pem'),
  root: join(dir, 'root-cert.pem'),
  chain: join(dir, 'cert-chain.pem'),
});

/** The `cacerts` Secret replaced in place, as an operator updates it (create --dry-run | replace). */
export async function replaceCacerts(cluster: KubeCluster, files: CacertsFiles): Promise<void> {
  const yaml = await cluster.kubectl([
    'create',
    'secret',
    'generic',
    'cacerts',
    '-n',
    CA_NAMESPACE,
    '--dry-run=client',
    '-o',
    'yaml',
    `--from-file=ca-cert.pem=${files.cert}`,
    `--from-file=ca-key.pem=${files.key}`,
    `--from-file=root-cert.pem=${files.root}`,
    `--from-file=cert-chain.pem=${files.chain}`,
  ]);
  await cluster.kubectl(['replace', '-f', '-'], { input: yaml });
}
