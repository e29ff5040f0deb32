// SPIFFE IDs as the SPIFFE ID specification defines them, and the Istio workload form
// `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>` that the CA issues.
import { invalidInput } from '../errors.js';

/** The identity of a workload as Istio names it: its service account in a namespace of a trust domain. */
export interface WorkloadId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const SCHEME = 'spiffe://';
const MAX_ID_BYTES = 2048;
// RFC 3986 limits a URI host to 255 characters, and the trust domain is the host (SPIFFE-ID 2.3).
const MAX_TRUST_DOMAIN_BYTES = 255;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[A-Za-z0-9._-]+$/;
const WORKLOAD_FORM = 'spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>';

function quoted(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value);
}

function invalidId(id: string, rule: string): Error {
  return invalidInput('PKI_SPIFFE_ID_INVALID', `invalid SPIFFE ID ${quoted(id)}: ${rule}`);
}

/** Why `td` is not a valid trust domain name, or undefined when it is. */
function trustDomainProblem(td: string): string | undefined {
  if (td === '') return 'the trust domain is empty';
  if (td.includes('@')) return 'the trust domain must not carry user info ("user@")';
  if (td.includes(':')) return 'the trust domain must not carry a port (no ":")';
  if (td.length > MAX_TRUST_DOMAIN_BYTES) {
    return `the trust domain is ${td.length} bytes long; at most ${MAX_TRUST_DOMAIN_BYTES} are allowed`;
  }
  if (!TRUST_DOMAIN_CHARS.test(td)) {
    return /[A-Z]/.test(td) && TRUST_DOMAIN_CHARS.test(td.toLowerCase())
      ? `the trust domain must be lower-case (use "${td.toLowerCase()}")`
      : 'the trust domain may only contain lower-case letters, digits, ".", "-" and "_"';
  }
  return undefined;
}

/** The rule `segment` breaks, phrased to follow its name, or undefined when it is valid. */
function segmentRule(segment: string): string | undefined {
  if (segment === '') return 'is empty';
  if (segment === '.' || segment === '..') return `is "${segment}", which is not allowed`;
  if (!SEGMENT_CHARS.test(segment)) {
    return 'may only contain letters, digits, ".", "-" and "_" (no percent-encoding)';
  }
  return undefined;
}

/** Returns `td` when it is a valid SPIFFE trust domain name; throws PKI_SPIFFE_ID_INVALID otherwise. */
export function validateTrustDomain(td: string): string {
  const problem = trustDomainProblem(td);
  if (problem) {
    throw invalidInput('PKI_SPIFFE_ID_INVALID', `invalid SPIFFE trust domain ${quoted(td)}: ${problem}`);
  }
  return td;
}

/**
 * Splits a SPIFFE ID into trust domain and path (`''` or `/seg/…`), enforcing every rule of the
 * specification; the error names the ID and the rule it breaks.
 */
export function parseSpiffeId(uri: string): { trustDomain: string; path: string } {
  if (Buffer.byteLength(uri, 'utf8') > MAX_ID_BYTES) {
    throw invalidId(uri, `it is longer than ${MAX_ID_BYTES} bytes`);
  }
  if (!uri.startsWith(SCHEME)) {
    const rule = uri.toLowerCase().startsWith(SCHEME)
      ? 'the scheme must be lower-case "spiffe://"'
      : 'it must start with "spiffe://"';
    throw invalidId(uri, rule);
  }
  if (uri.includes('?')) throw invalidId(uri, 'it must not have a query ("?")');
  if (uri.includes('#')) throw invalidId(uri, 'it must not have a fragment ("#")');
  const rest = uri.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) throw invalidId(uri, tdProblem);
  if (path !== '') {
    if (path.endsWith('/')) throw invalidId(uri, 'the path must not end with "/"');
    for (const segment of path.slice(1).split('/')) {
      const rule = segmentRule(segment);
      if (rule === 'is empty') throw invalidId(uri, 'the path has an empty segment ("//")');
      if (rule) throw invalidId(uri, `the path segment ${quoted(segment)} ${rule}`);
    }
  }
  return { trustDomain, path };
}

/** Parses an Istio workload identity; any path other than `/ns/<ns>/sa/<sa>` is refused. */
export function parseWorkloadId(uri: string): WorkloadId {
  const { trustDomain, path } = parseSpiffeId(uri);
  const segments = path.split('/');
  // '' before the leading slash, then exactly ns, <ns>, sa, <sa>.
  if (segments.length !== 5 || segments[1] !== 'ns' || segments[3] !== 'sa') {
    throw invalidId(
      uri,
      `a workload identity has the path /ns/<namespace>/sa/<service-account> (${WORKLOAD_FORM})`,
    );
  }
  return { trustDomain, namespace: segments[2]!, serviceAccount: segments[4]! };
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>`, after checking each part on its own so the error names it. */
export function formatWorkloadId(id: WorkloadId): string {
  validateTrustDomain(id.trustDomain);
  for (const [what, value] of [
    ['namespace', id.namespace],
    ['service account', id.serviceAccount],
  ] as const) {
    const rule = segmentRule(value);
    if (rule) {
      throw invalidInput('PKI_SPIFFE_ID_INVALID', `invalid SPIFFE ID: the ${what} ${quoted(value)} ${rule}`);
    }
  }
  const uri = `${SCHEME}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
  if (Buffer.byteLength(uri, 'utf8') > MAX_ID_BYTES)
    throw invalidId(uri, `it is longer than ${MAX_ID_BYTES} bytes`);
  return uri;
}
