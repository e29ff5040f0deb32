// A real Kubernetes API server for tests: peers/harness/kube-cluster.ts with the peers' etcd,
// kube-apiserver and kubectl (built on first use). There is no kubelet and no controller-manager:
// tests create the ServiceAccounts they use. Whatever a failed test left running is killed after the
// file's last test (its pipes would otherwise keep the test process, and so the whole run, waiting),
// and on exit as a last resort.
import { after } from 'node:test';
import {
  type KubeCluster,
  type StartKubeClusterOptions,
  startLocalKubeCluster,
} from '../../peers/harness/kube-cluster.js';
import { peerBinary } from './peers.js';

export {
  ADMIN_USER,
  type KubeCluster,
  type KubectlOptions,
  type StartKubeClusterOptions,
} from '../../peers/harness/kube-cluster.js';

const live = new Set<() => void>();
const killAll = () => {
  for (const kill of live) kill();
  live.clear();
};
after(killAll);
process.on('exit', killAll);

/** Starts etcd and kube-apiserver (built on first use) and resolves once /readyz answers ok. */
export function startKubeCluster(opts: StartKubeClusterOptions = {}): Promise<KubeCluster> {
  return startLocalKubeCluster({
    ...opts,
    binaries: {
      etcd: peerBinary('etcd'),
      kubeApiserver: peerBinary('kubernetes', 'kube-apiserver'),
      kubectl: peerBinary('kubernetes', 'kubectl'),
    },
    register(kill) {
      live.add(kill);
      return () => live.delete(kill);
    },
  });
}
