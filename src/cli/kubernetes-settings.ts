// Which home `meshca serve` uses: the Kubernetes API when given a kubeconfig (--kubeconfig, then
// KUBECONFIG) or when running in a pod (the service-account token is mounted and
// KUBERNETES_SERVICE_HOST is set); otherwise the data directory. And, for Kubernetes, the CA's
// namespace (--namespace, then POD_NAMESPACE, then istio-system) and the timings tests shorten.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { IN_CLUSTER_TOKEN, type KubeconfigSource } from '../kubernetes/kube-client.js';
import { checkNamespace } from '../kubernetes/kubernetes-home.js';
import { str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { pick, pickOptional, type SettingsProblems } from './settings.js';

export interface KubernetesSettings {
  from: KubeconfigSource;
  namespace: string;
  leaseDurationMs: number;
  tokenReviewTimeoutMs: number;
  /** This replica's name in the leader Lease (POD_NAME when set). */
  identity?: string;
  /** TokenReview per token (default), or offline with the API server's issuer keys (--token-check jwks). */
  tokenCheck: 'tokenreview' | 'jwks';
  /** Keep Secret istiod-tls for istiod's serving certificate (--istiod-tls, MESHCA_ISTIOD_TLS). */
  istiodTls: boolean;
}

export const KUBERNETES_OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  'istiod-tls': { type: 'boolean' },
  'token-check': { type: 'string' },
} as const;

export const KUBERNETES_HELP = [
  '--kubeconfig FILE            the Kubernetes home: cacerts/istio-ca-secret Secrets, istio-ca-root-cert ConfigMaps,',
  '                             TokenReview, a leader Lease (env KUBECONFIG; in a pod the in-cluster config is used)',
  "--namespace NS               the CA's namespace in Kubernetes (env POD_NAMESPACE, default istio-system)",
  "--istiod-tls                 keep Secret istiod-tls (istiod's serving certificate, for ENABLE_CA_SERVER=false) issued",
  '                             by this CA, renewed at half its life (env MESHCA_ISTIOD_TLS=true)',
  '--token-check tokenreview|jwks  how workload tokens are checked: a TokenReview each (default; answers cached 60 s),',
  "                             or offline with the API server's service-account keys, refetched when they rotate (env MESHCA_TOKEN_CHECK)",
  'Kubernetes timings: MESHCA_LEADER_LEASE_DURATION (default 15s), MESHCA_TOKEN_REVIEW_TIMEOUT (default 5s);',
  "                             token audiences from TOKEN_AUDIENCES (Istio's, comma-separated, default istio-ca)",
  'With --config in RA mode, every caCertificates signer that no ClusterIssuer folder defines is reached through the',
  "                             cluster's CertificateSigningRequest API (Istio's ISTIOD_RA_KUBERNETES_API; chart value kubernetesCsr.signerNames)",
];

export function resolveKubernetesSettings(
  values: Record<string, unknown>,
  ctx: CliContext,
  problems: SettingsProblems,
): KubernetesSettings | undefined {
  const env = ctx.env;
  const file = pickOptional(str(values.kubeconfig), env, 'KUBECONFIG');
  const inCluster = !file && !!env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN);
  if (!file && !inCluster) {
    for (const flag of ['namespace', 'istiod-tls', 'token-check'])
      if (values[flag] !== undefined)
        problems.add(`--${flag} applies to the Kubernetes home only; give --kubeconfig FILE too`);
    return undefined;
  }
  // KUBECONFIG may list several files; the first is the one meshca reads.
  const path = file ? resolve(ctx.cwd, file.split(':')[0]!) : undefined;
  if (path && !existsSync(path))
    problems.add(
      `kubeconfig ${path} does not exist; give the file kubectl uses (--kubeconfig or KUBECONFIG)`,
    );
  const ns = pick(str(values.namespace), env, 'POD_NAMESPACE', 'istio-system');
  const namespace = problems.try(
    () => checkNamespace(ns.value, ns.source === 'flag' ? '--namespace' : ns.source),
    'istio-system',
  );
  const duration = (name: string, fallback: string) => {
    const { value, source } = pick(undefined, env, name, fallback);
    return (
      problems.try(() => parseDurationSeconds(value, source), parseDurationSeconds(fallback, fallback)) * 1000
    );
  };
  const check = pick(str(values['token-check']), env, 'MESHCA_TOKEN_CHECK', 'tokenreview');
  if (check.value !== 'tokenreview' && check.value !== 'jwks')
    problems.add(
      `${check.source === 'flag' ? '--token-check' : check.source} "${check.value}": use tokenreview (a TokenReview per token) or jwks (offline, with the API server's keys)`,
    );
  return {
    tokenCheck: check.value === 'jwks' ? 'jwks' : 'tokenreview',
    from: path ? { kind: 'file', path } : { kind: 'in-cluster' },
    namespace,
    leaseDurationMs: duration('MESHCA_LEADER_LEASE_DURATION', '15s'),
    tokenReviewTimeoutMs: duration('MESHCA_TOKEN_REVIEW_TIMEOUT', '5s'),
    identity: env.POD_NAME || undefined,
    istiodTls: values['istiod-tls'] === true || /^(1|true|yes)$/i.test(env.MESHCA_ISTIOD_TLS ?? ''),
  };
}
