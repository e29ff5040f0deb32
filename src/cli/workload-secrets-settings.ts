// `meshca serve --workload-secrets`: Citadel's istio.<serviceaccount> Secrets (Istio ≤ 1.0), with
// the namespaces left out and a cap on the rate of Secret writes. The Kubernetes home only.
import { str } from './args.js';
import type { CliContext } from './context.js';
import { pick, type SettingsProblems } from './settings.js';

export const WORKLOAD_SECRETS_OPTIONS = {
  'workload-secrets': { type: 'boolean' },
  'workload-secrets-exclude-namespaces': { type: 'string' },
  'workload-secrets-write-rate': { type: 'string' },
} as const;

export const WORKLOAD_SECRETS_HELP = [
  "--workload-secrets           keep Citadel's Secret istio.<serviceaccount> (type istio.io/key-and-cert: key.pem,",
  '                             cert-chain.pem, root-cert.pem) for every ServiceAccount, renewed at half life, re-issued',
  '                             after a CA change, re-created when deleted; leader only (env MESHCA_WORKLOAD_SECRETS=true)',
  '--workload-secrets-exclude-namespaces LIST  namespaces that get none, comma-separated',
  '                             (env MESHCA_WORKLOAD_SECRETS_EXCLUDE_NAMESPACES, default kube-system,kube-public,kube-node-lease)',
  '--workload-secrets-write-rate N  at most N Secret writes per second (env MESHCA_WORKLOAD_SECRETS_WRITE_RATE, default 10)',
];

export interface WorkloadSecretsSettings {
  excludeNamespaces: string[];
  writesPerSecond: number;
}

const DEFAULT_EXCLUDED = 'kube-system,kube-public,kube-node-lease';
const MAX_WRITE_RATE = 1000;

/** The settings, or undefined when meshca keeps no workload Secrets. */
export function resolveWorkloadSecrets(
  values: Record<string, unknown>,
  ctx: CliContext,
  problems: SettingsProblems,
  kubernetes: boolean,
): WorkloadSecretsSettings | undefined {
  const env = ctx.env;
  const on = values['workload-secrets'] === true || /^(1|true|yes)$/i.test(env.MESHCA_WORKLOAD_SECRETS ?? '');
  if (!on) {
    for (const flag of ['workload-secrets-exclude-namespaces', 'workload-secrets-write-rate'])
      if (values[flag] !== undefined) problems.add(`--${flag} applies with --workload-secrets only`);
    return undefined;
  }
  if (!kubernetes) {
    problems.add('--workload-secrets applies to the Kubernetes home only; give --kubeconfig FILE too');
    return undefined;
  }
  const excluded = pick(
    str(values['workload-secrets-exclude-namespaces']),
    env,
    'MESHCA_WORKLOAD_SECRETS_EXCLUDE_NAMESPACES',
    DEFAULT_EXCLUDED,
  );
  const rate = pick(
    str(values['workload-secrets-write-rate']),
    env,
    'MESHCA_WORKLOAD_SECRETS_WRITE_RATE',
    '10',
  );
  const writesPerSecond = Number(rate.value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(rate.value) || writesPerSecond <= 0 || writesPerSecond > MAX_WRITE_RATE)
    problems.add(
      `${rate.source === 'flag' ? '--workload-secrets-write-rate' : rate.source} "${rate.value}": give a number of writes per second above 0, at most ${MAX_WRITE_RATE}`,
    );
  return {
    excludeNamespaces: excluded.value
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    writesPerSecond: writesPerSecond > 0 ? writesPerSecond : 10,
  };
}
