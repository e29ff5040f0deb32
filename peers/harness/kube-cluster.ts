// A real Kubernetes API server on this machine, for the tests and `meshca demo custom-ca --kubernetes`:
// etcd and kube-apiserver (the peers' binaries, given by the caller), on free loopback ports, with generated certificates, a service-account signing key and a static admin
// token; kubectl runs against it with an admin kubeconfig. There is no kubelet and no
// controller-manager: the TokenRequest and TokenReview APIs work, but nothing creates a namespace's
// `default` ServiceAccount, so tests create the ServiceAccounts they use.

import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import {
  ADMIN_USER,
  type KubeClusterFiles,
  writeKubeClusterFiles,
  writeKubeconfig,
} from './kube-cluster-files.js';
import type { TestCertificate } from './openssl-mint.js';
import { createProcessGroup, type ExecResult, type GroupProcess, type ProcessGroup } from './processes.js';
import { waitFor } from './wait-for.js';

export { ADMIN_USER } from './kube-cluster-files.js';

/** The peers' programs the cluster runs: etcd, and the kubernetes peer's kube-apiserver and kubectl. */
export interface KubeClusterBinaries {
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
}

export interface StartKubeClusterOptions {
  /** Parent of the cluster's temporary directory (default: the OS temp dir); removed by stop(). */
  dir?: string;
  /** `--service-account-issuer`, the `iss` of service-account tokens. */
  serviceAccountIssuer?: string;
  /** `--api-audiences`; the first is the audience of a token requested without one. Default: [issuer]. */
  apiAudiences?: string[];
  /** More kube-apiserver flags (`--name=value`), after the harness's own, so they win. */
  apiServerArgs?: string[];
  /** How long each start of the API server may take to be ready (default 120 s: a loaded 2-core box). */
  readyTimeoutMs?: number;
}

export interface StartLocalKubeClusterOptions extends StartKubeClusterOptions {
  binaries: KubeClusterBinaries;
  /**
   * Called at once with a synchronous kill (SIGKILL both, remove the directory), for a caller's
   * last-resort clean-up; the returned function forgets it again once the cluster is stopped.
   */
  register?: (kill: () => void) => () => void;
}

export interface KubectlOptions {
  /** Standard input (a manifest for `create -f -`). */
  input?: string;
  /** kubeconfig to use instead of the admin's (e.g. one from kubeconfigFor()). */
  kubeconfig?: string;
  /** Default 30 s. */
  timeoutMs?: number;
}

export interface KubeCluster {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  readonly port: number;
  /** The CA of the API server's serving certificate, PEM, and a file holding it. */
  readonly caCertPem: string;
  readonly caFile: string;
  /** The API server's --client-ca-file CA, with its key: for tests that mint client certificates. */
  readonly clientCa: TestCertificate;
  /** Bearer token of ADMIN_USER, in group system:masters. */
  readonly adminToken: string;
  /** An admin kubeconfig file in the cluster's directory. */
  readonly kubeconfigPath: string;
  readonly serviceAccountIssuer: string;
  readonly apiAudiences: readonly string[];
  /** The cluster's temporary directory (certificates, keys, etcd data, kubeconfigs). */
  readonly dir: string;
  /** How long startKubeCluster took, from its call to /readyz answering ok. */
  readonly startupMs: number;
  /**
   * Runs kubectl (the admin kubeconfig unless `opts.kubeconfig`); resolves with its stdout, throws with
   * its output on a non-zero exit.
   */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<string>;
  /**
   * Like kubectl(), but resolves with the exit code and both outputs instead of throwing (`auth can-i`
   * answers "no" with exit 1).
   */
  kubectlResult(args: readonly string[], opts?: KubectlOptions): Promise<ExecResult>;
  /**
   * Writes a kubeconfig for `token` (e.g. a service account's) beside the admin's;
   * resolves with its path.
   */
  kubeconfigFor(token: string, user?: string): Promise<string>;
  /**
   * Stops the API server (SIGTERM) and starts it again on the same port, flags and etcd data (to test
   * what clients do across a restart, e.g. resuming watches); resolves when it is ready again.
   */
  restartApiServer(): Promise<void>;
  /** The end of the API server's and etcd's output, for assertion messages. */
  output(): string;
  /** Kills both processes (SIGKILL by PID), waits for their exit, removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 10_000;

function killGroup(group: ProcessGroup): void {
  for (const pid of group.pids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * `setpriv --pdeathsig SIGKILL -- bin args…`: the kernel kills the server if the test process dies
 * without running its exit handlers (killed by a runner's timeout, or a crash), so no API server
 * outlives the test on a shared 2-core machine. setpriv execs the server, so the PID stays its own.
 */
function diesWithParent(bin: string, args: readonly string[]): [string, string[]] {
  return ['setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...args]];
}

/** Distinct free ports: freePort() closes its probe, so two calls may name the same port. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** GET `path` with the admin token; resolves with the status and body (never rejects on HTTP errors). */
function adminGet(
  server: string,
  caCertPem: string,
  token: string,
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      { ca: caCertPem, headers: { authorization: `Bearer ${token}` }, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** kube-apiserver's flags: everything on loopback, nothing that needs a kubelet or a cloud. */
function apiServerArgs(o: {
  files: KubeClusterFiles;
  port: number;
  etcdUrl: string;
  issuer: string;
  audiences: readonly string[];
  extra: readonly string[];
}): string[] {
  return [
    `--etcd-servers=${o.etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--tls-cert-file=${o.files.serving.certFile}`,
    `--tls-private-key-file=${o.files.serving.keyFile}`,
    `--client-ca-file=${o.files.clientCa.certFile}`,
    `--token-auth-file=${o.files.tokenFile}`,
    `--service-account-issuer=${o.issuer}`,
    `--service-account-key-file=${o.files.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${o.files.serviceAccountKeyFile}`,
    `--api-audiences=${o.audiences.join(',')}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.96.0.0/24',
    // No node runs here: the `kubernetes` Service's endpoints would only point at loopback.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    // JSON lines, so the process group can wait for the "Serving securely" line.
    '--logging-format=json',
    ...o.extra,
  ];
}

/** Starts etcd and kube-apiserver from `opts.binaries` and resolves once /readyz answers ok. */
export async function startLocalKubeCluster(opts: StartLocalKubeClusterOptions): Promise<KubeCluster> {
  const started = Date.now();
  const { etcd: etcdBin, kubeApiserver: apiServerBin, kubectl: kubectlBin } = opts.binaries;
  const dir = await mkdtemp(join(opts.dir ?? tmpdir(), 'kube-cluster-'));
  // HOME is the cluster's directory, so kubectl's discovery cache never touches the user's ~/.kube.
  const group = createProcessGroup({
    cwd: dir,
    env: { ...process.env, HOME: dir },
    handleSignals: false,
    stopTimeoutMs: STOP_TIMEOUT_MS,
  });
  const forget = opts.register?.(() => {
    killGroup(group);
    rmSync(dir, { recursive: true, force: true });
  });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  try {
    const [etcdClientPort, etcdPeerPort, port] = (await distinctFreePorts(3)) as [number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const server = `https://127.0.0.1:${port}`;
    const issuer = opts.serviceAccountIssuer ?? 'https://kubernetes.default.svc.cluster.local';
    const audiences = opts.apiAudiences ?? [issuer];

    // etcd starts while openssl makes the certificates.
    const [etcd, files] = await Promise.all([
      group.start(
        ...diesWithParent(etcdBin, [
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-url=${etcdUrl}`,
          `--listen-peer-url=http://127.0.0.1:${etcdPeerPort}`,
          // The data is a test's, thrown away after it: fsync would only slow every write.
          '--unsafe-no-fsync',
          // A lone member waits one election timeout before it leads: 100 ms instead of 1 s.
          '--heartbeat-interval=10',
          '--election-timeout=100',
        ]),
        { name: 'etcd', ready: (l) => l.msg === 'etcd ready', timeoutMs: readyTimeoutMs },
      ),
      writeKubeClusterFiles(dir),
    ]);
    const caCertPem = files.servingCa.certPem;
    const args = apiServerArgs({ files, port, etcdUrl, issuer, audiences, extra: opts.apiServerArgs ?? [] });

    const startApiServer = async (): Promise<GroupProcess> => {
      const proc = await group.start(...diesWithParent(apiServerBin, args), {
        name: 'kube-apiserver',
        ready: (l) => typeof l.msg === 'string' && l.msg.startsWith('Serving securely on'),
        timeoutMs: readyTimeoutMs,
      });
      // Serving is not ready: /readyz waits for etcd, the RBAC bootstrap roles and the other
      // post-start hooks.
      await waitFor(
        `kube-apiserver /readyz at ${server}`,
        async () => {
          const r = await adminGet(server, caCertPem, files.adminToken, '/readyz');
          if (r.status !== 200) throw new Error(`/readyz ${r.status}: ${r.body.slice(-2000)}`);
          return true;
        },
        readyTimeoutMs,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; kube-apiserver's output:\n${proc.output().slice(-8000)}`);
      });
      return proc;
    };
    let apiServer = await startApiServer();

    const kubeconfigPath = await writeKubeconfig({
      path: join(dir, 'admin.kubeconfig'),
      server,
      caCertPem,
      user: ADMIN_USER,
      token: files.adminToken,
    });
    let kubeconfigs = 0;
    const kubectlResult = (args: readonly string[], o: KubectlOptions = {}) =>
      group.exec(kubectlBin, [`--kubeconfig=${o.kubeconfig ?? kubeconfigPath}`, ...args], {
        input: o.input,
        timeoutMs: o.timeoutMs,
        allowFailure: true,
      });
    let stopped = false;

    return {
      server,
      port,
      caCertPem,
      caFile: files.servingCa.certFile,
      clientCa: files.clientCa,
      adminToken: files.adminToken,
      kubeconfigPath,
      serviceAccountIssuer: issuer,
      apiAudiences: audiences,
      dir,
      startupMs: Date.now() - started,
      kubectlResult,
      kubectl: async (args, o) => {
        const r = await kubectlResult(args, o);
        if (r.code !== 0) {
          throw new Error(`kubectl ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
        }
        return r.stdout;
      },
      kubeconfigFor: (token, user = `user-${++kubeconfigs}`) =>
        writeKubeconfig({ path: join(dir, `${user}.kubeconfig`), server, caCertPem, user, token }),
      restartApiServer: async () => {
        await apiServer.stop();
        apiServer = await startApiServer();
      },
      output: () =>
        `--- kube-apiserver ---\n${apiServer.output().slice(-8000)}\n--- etcd ---\n${etcd.output().slice(-4000)}`,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        // SIGKILL at once: the data is thrown away, and a graceful stop of kube-apiserver takes over
        // a second (restartApiServer() is the graceful one). close() waits for both exits.
        killGroup(group);
        await group.close();
        forget?.();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await group.close();
    forget?.();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
