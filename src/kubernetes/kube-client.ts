// The one Kubernetes client of the CA process: a kubeconfig (file, KUBECONFIG or in-cluster) and
// the few API groups meshca uses. Loaded lazily, so the data-directory home never pays for it.
import { readFileSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node';
import { configError } from '../errors.js';

export type KubeconfigSource = { kind: 'file'; path: string } | { kind: 'in-cluster' };

export interface KubeClient {
  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly authentication: k8s.AuthenticationV1Api;
  /** CertificateSigningRequests (certificates.k8s.io/v1): meshca as a signer. */
  readonly certificates: k8s.CertificatesV1Api;
  /** The service-account issuer's discovery document and keys (offline token checks). */
  readonly wellKnown: k8s.WellKnownApi;
  readonly openid: k8s.OpenidApi;
  readonly watcher: k8s.Watch;
  /** The API server's URL, for messages. */
  readonly server: string;
  /** The kubeconfig file, or "in-cluster", for messages. */
  readonly source: string;
}

/** The service account's files a pod gets; their presence means "in a cluster". */
export const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export async function loadKubeClient(from: KubeconfigSource): Promise<KubeClient> {
  const lib = await import('@kubernetes/client-node');
  const config = new lib.KubeConfig();
  const source = from.kind === 'file' ? from.path : 'in-cluster';
  try {
    if (from.kind === 'file') {
      // loadFromFile reads the file itself; reading it first gives a clear message for a missing file.
      readFileSync(from.path);
      config.loadFromFile(from.path);
    } else {
      config.loadFromCluster();
    }
  } catch (err) {
    throw configError(
      'KUBE_CONFIG_INVALID',
      `cannot load the Kubernetes configuration from ${source}: ${(err as Error).message}; give a readable kubeconfig with --kubeconfig or KUBECONFIG`,
      err,
    );
  }
  const cluster = config.getCurrentCluster();
  if (!cluster?.server) {
    throw configError(
      'KUBE_CONFIG_INVALID',
      `the Kubernetes configuration from ${source} names no cluster server; set current-context to a context whose cluster has a server URL`,
    );
  }
  return {
    config,
    core: config.makeApiClient(lib.CoreV1Api),
    coordination: config.makeApiClient(lib.CoordinationV1Api),
    authentication: config.makeApiClient(lib.AuthenticationV1Api),
    certificates: config.makeApiClient(lib.CertificatesV1Api),
    wellKnown: config.makeApiClient(lib.WellKnownApi),
    openid: config.makeApiClient(lib.OpenidApi),
    watcher: new lib.Watch(config),
    server: cluster.server,
    source,
  };
}
