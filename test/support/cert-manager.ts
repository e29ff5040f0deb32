// A real API server with a real cert-manager for tests: the cluster of kube-cluster.ts, cert-manager's
// CRDs and controller from peers/harness/cert-manager.ts, and the Istio task's self-signed CA
// ClusterIssuers, each one's root exported as the task does. The controller is killed after the
// file's last test, as the cluster is.
import { after } from 'node:test';
import { createTaskIssuers, startCertManager } from '../../peers/harness/cert-manager.js';
import { createProcessGroup, type GroupProcess } from '../../peers/harness/processes.js';
import { type KubeCluster, startKubeCluster } from './kube-cluster.js';

export interface CertManagerCluster {
  readonly cluster: KubeCluster;
  readonly certManager: GroupProcess;
  /** Each ClusterIssuer's root (PEM), by issuer name. */
  readonly roots: ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

// Registered once, at load: an after() called from inside a before hook would run right after it.
const live = new Set<() => Promise<void>>();
after(async () => {
  for (const stop of [...live]) await stop();
});

export async function startCertManagerCluster(issuers: readonly string[]): Promise<CertManagerCluster> {
  const cluster = await startKubeCluster();
  const group = createProcessGroup({ cwd: cluster.dir, handleSignals: false, stopTimeoutMs: 5000 });
  const killNow = () => {
    for (const pid of group.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  };
  process.on('exit', killNow);
  const stop = async () => {
    live.delete(stop);
    await group.close();
    process.off('exit', killNow);
    await cluster.stop();
  };
  live.add(stop);
  try {
    const kubectl = (args: readonly string[], o?: { input?: string; timeoutMs?: number }) =>
      cluster.kubectl(args, o);
    const certManager = await startCertManager(group, { kubeconfig: cluster.kubeconfigPath, kubectl });
    const roots = await createTaskIssuers(kubectl, issuers).catch((err: Error) => {
      throw new Error(`${err.message}\n--- cert-manager ---\n${certManager.output().slice(-6000)}`);
    });
    return { cluster, certManager, roots, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
