// meshca installed from the Helm chart with values (`helm template … --set …`, applied server-side),
// for features the plain manifests leave off (the CSR signer, the workload Secrets): their RBAC is
// then exactly what the chart grants. Resolves with a kubeconfig for meshca's service account.
import { spawnSync } from 'node:child_process';
import { REPO_DIR } from './cli.js';
import type { KubeCluster } from './kube-cluster.js';
import { CA_NAMESPACE } from './meshca-in-kubernetes.js';
import { peerBinary } from './peers.js';

/** `sets`: helm --set arguments, e.g. `csrSigner.signerNames={example.com/foo}`. */
export async function installMeshcaChart(cluster: KubeCluster, sets: string[]): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HELM_') && k !== 'KUBECONFIG'),
  );
  const args = ['template', 'meshca', 'deploy/helm/meshca', '--namespace', CA_NAMESPACE];
  for (const set of ['createNamespace=true', ...sets]) args.push('--set', set);
  const render = spawnSync(peerBinary('helm'), args, {
    cwd: REPO_DIR,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (render.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${render.stderr}`);
  await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: render.stdout });
  const token = (
    await cluster.kubectl(['create', 'token', 'meshca', '-n', CA_NAMESPACE, '--duration=2h'])
  ).trim();
  return cluster.kubeconfigFor(token, 'meshca');
}
