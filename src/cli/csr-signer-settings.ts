// `meshca serve --csr-signer-names example.com/foo,…`: meshca as a Kubernetes CSR signer for those
// signer names (env MESHCA_CSR_SIGNER_NAMES). The Kubernetes home only; the lifetimes are the
// workload TTL settings serve already has.
import { str } from './args.js';
import type { CliContext } from './context.js';
import { pickOptional, type SettingsProblems } from './settings.js';

export const CSR_SIGNER_OPTIONS = {
  'csr-signer-names': { type: 'string' },
} as const;

export const CSR_SIGNER_HELP = [
  '--csr-signer-names LIST      sign Approved CertificateSigningRequests (certificates.k8s.io/v1) of these signer',
  '                             names, comma-separated, e.g. example.com/foo (env MESHCA_CSR_SIGNER_NAMES; Kubernetes',
  '                             home, leader only). SPIFFE workload identities of the trust domain, usages digital',
  '                             signature, key encipherment, server auth, client auth; expirationSeconds capped at',
  '                             --max-workload-cert-ttl; anything else gets a Failed condition and an Event',
];

/** `<domain>/<path>`: a DNS subdomain, a slash, then a path (Kubernetes' signerName). */
const SIGNER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9._~/-]+$/;

/** The signer names, or undefined when meshca signs no CSRs. */
export function resolveCsrSignerNames(
  values: Record<string, unknown>,
  ctx: CliContext,
  problems: SettingsProblems,
  kubernetes: boolean,
): string[] | undefined {
  const text = pickOptional(str(values['csr-signer-names']), ctx.env, 'MESHCA_CSR_SIGNER_NAMES');
  if (text === undefined) return undefined;
  const where = values['csr-signer-names'] !== undefined ? '--csr-signer-names' : 'MESHCA_CSR_SIGNER_NAMES';
  if (!kubernetes) {
    problems.add(`${where} applies to the Kubernetes home only; give --kubeconfig FILE too`);
    return undefined;
  }
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length === 0) problems.add(`${where} is empty; name at least one signer, e.g. example.com/foo`);
  for (const name of names) {
    if (name.length > 253 || !SIGNER_NAME.test(name))
      problems.add(
        `${where}: "${name}" is not a signer name; use <domain>/<name> with a domain you own, e.g. example.com/foo`,
      );
    else if (/^([a-z0-9-]+\.)*kubernetes\.io\//.test(name))
      problems.add(
        `${where}: "${name}" is one of Kubernetes' own signers (kube-controller-manager signs those); use a domain you own`,
      );
  }
  return [...new Set(names)];
}
