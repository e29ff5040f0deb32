// The naming rules mesh objects must follow: Kubernetes object names and Kubernetes signer names
// (`<domain>/<path>`), each returning why a name breaks its rule, to be reported with its field.

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Shows an outside value in a message: quoted so blanks are visible, and cut when long. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(JSON.stringify(value));
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && value.split('.').every((label) => DNS_LABEL.test(label));
}

/** Why `value` cannot be a namespace name, or undefined. */
export function namespaceProblem(value: string): string | undefined {
  return isDnsLabel(value)
    ? undefined
    : `${quote(value)} is not a valid namespace name (at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit)`;
}

/** Why `value` cannot be an object name (a DNS-1123 subdomain, as the API server requires), or undefined. */
export function objectNameProblem(value: string): string | undefined {
  return isDnsSubdomain(value)
    ? undefined
    : `${quote(value)} is not a valid object name (at most 253 characters: dot-separated lower-case letters, digits and "-")`;
}

/** Why `value` is not a full Kubernetes signer name such as `clusterissuers.cert-manager.io/foo`, or undefined. */
export function fullSignerNameProblem(value: string): string | undefined {
  const slash = value.indexOf('/');
  if (slash < 0) {
    return `${quote(value)} is not a full signer name; write <domain>/<name>, e.g. clusterissuers.cert-manager.io/${value || 'foo'}`;
  }
  const domain = value.slice(0, slash);
  const path = value.slice(slash + 1);
  if (!isDnsSubdomain(domain) || !domain.includes('.')) {
    return `${quote(value)} is not a full signer name: the part before "/" must be a lower-case domain name, e.g. clusterissuers.cert-manager.io`;
  }
  if (path === '' || /\s/.test(path)) {
    return `${quote(value)} is not a full signer name: the part after "/" must be a non-empty name without blanks`;
  }
  return undefined;
}

/** Why `value` cannot name a signer, bare (`foo`) or full (`clusterissuers.cert-manager.io/foo`), or undefined. */
export function signerNameProblem(value: string): string | undefined {
  if (value.includes('/')) return fullSignerNameProblem(value);
  if (value === '' || /\s/.test(value))
    return `${quote(value)} is not a signer name: it is empty or has blanks`;
  return undefined;
}
