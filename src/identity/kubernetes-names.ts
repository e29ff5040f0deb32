// Kubernetes object-name rules for the two names an identity is made of: a namespace is a
// DNS-1123 label, a service account a DNS-1123 subdomain (as the API server enforces).
import { invalidInput } from '../errors.js';
import { capCallerText } from '../log.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL = 63;
const MAX_SUBDOMAIN = 253;

export function isDns1123Label(value: string): boolean {
  return value.length <= MAX_LABEL && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN && value.split('.').every((label) => DNS1123_LABEL.test(label));
}

/** Shows a value from outside in a message: quoted, so blanks and control characters are visible, and short. */
export function quoteForMessage(value: unknown): string {
  return JSON.stringify(capCallerText(textOf(value), 100));
}

/**
 * A claim or header value as text. JSON.stringify recurses, so a token's `[[[[…]]]]` nested some
 * thousands deep (a few kilobytes, unsigned: `alg` and `iss` are quoted before any signature check)
 * overflows the stack; such a value is shown by its outer shape instead.
 */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(JSON.stringify(value));
  } catch {
    return Array.isArray(value) ? '[… nested too deep to show]' : '{… nested too deep to show}';
  }
}

/** Throws IDENTITY_SERVICE_ACCOUNT_INVALID naming the offending part when either name breaks its rule. */
export function validateServiceAccountName(namespace: string, serviceAccount: string): void {
  const problems: string[] = [];
  if (typeof namespace !== 'string' || !isDns1123Label(namespace)) {
    problems.push(
      `namespace ${quoteForMessage(namespace)} is not a DNS-1123 label (at most ${MAX_LABEL} characters: lower-case letters, digits and "-", starting and ending with a letter or digit)`,
    );
  }
  if (typeof serviceAccount !== 'string' || !isDns1123Subdomain(serviceAccount)) {
    problems.push(
      `service account ${quoteForMessage(serviceAccount)} is not a DNS-1123 subdomain (at most ${MAX_SUBDOMAIN} characters: dot-separated labels of lower-case letters, digits and "-")`,
    );
  }
  if (problems.length > 0) {
    throw invalidInput(
      'IDENTITY_SERVICE_ACCOUNT_INVALID',
      `${problems.join('; ')}; use a valid Kubernetes name`,
    );
  }
}
