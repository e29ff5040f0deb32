// Reads the service account out of a verified Kubernetes service-account token: the bound
// (projected) form and the legacy secret-based form, refusing tokens whose claims disagree.
import type { JWTPayload } from 'jose';
import { unauthenticated } from '../errors.js';
import type { Caller } from './caller.js';
import { isDns1123Label, isDns1123Subdomain, quoteForMessage } from './kubernetes-names.js';

const SUBJECT_PREFIX = 'system:serviceaccount:';
// Claims of pre-1.21 secret-based tokens (iss "kubernetes/serviceaccount").
const LEGACY_NAMESPACE_CLAIM = 'kubernetes.io/serviceaccount/namespace';
const LEGACY_NAME_CLAIM = 'kubernetes.io/serviceaccount/service-account.name';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `system:serviceaccount:<namespace>:<name>`, the subject of tokens and TokenReview usernames. */
export function parseServiceAccountSubject(sub: unknown): { namespace: string; serviceAccount: string } {
  if (typeof sub === 'string' && sub.startsWith(SUBJECT_PREFIX)) {
    const rest = sub.slice(SUBJECT_PREFIX.length).split(':');
    const [namespace, serviceAccount] = rest;
    // Names are checked as Kubernetes would, so nothing odd ("/", "..") can reach a SPIFFE ID.
    if (
      rest.length === 2 &&
      namespace !== undefined &&
      serviceAccount !== undefined &&
      isDns1123Label(namespace) &&
      isDns1123Subdomain(serviceAccount)
    ) {
      return { namespace, serviceAccount };
    }
  }
  const shown = sub === undefined ? 'is missing' : `${quoteForMessage(sub)} is`;
  throw unauthenticated(
    'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT',
    `the token's subject ("sub" claim) ${shown} not a Kubernetes service account; expected "system:serviceaccount:<namespace>:<name>" with valid Kubernetes names — present a service-account token, not a user or other OIDC token`,
  );
}

interface Restatement {
  claim: string;
  value: unknown;
  /** Which name the claim restates; undefined when the claim is not even shaped as Kubernetes writes it. */
  names: 'namespace' | 'service account' | undefined;
}

/** Claims that name the service account again elsewhere in the token, with the value each holds. */
function restatedClaims(payload: JWTPayload): Restatement[] {
  const found: Restatement[] = [];
  const k8s = payload['kubernetes.io'];
  if (k8s !== undefined && !isObject(k8s))
    found.push({ claim: 'kubernetes.io', value: k8s, names: undefined });
  if (isObject(k8s)) {
    if ('namespace' in k8s)
      found.push({ claim: 'kubernetes.io.namespace', value: k8s.namespace, names: 'namespace' });
    const sa = k8s.serviceaccount;
    if (sa !== undefined && !isObject(sa)) {
      found.push({ claim: 'kubernetes.io.serviceaccount', value: sa, names: undefined });
    }
    if (isObject(sa) && 'name' in sa) {
      found.push({ claim: 'kubernetes.io.serviceaccount.name', value: sa.name, names: 'service account' });
    }
  }
  if (LEGACY_NAMESPACE_CLAIM in payload) {
    found.push({ claim: LEGACY_NAMESPACE_CLAIM, value: payload[LEGACY_NAMESPACE_CLAIM], names: 'namespace' });
  }
  if (LEGACY_NAME_CLAIM in payload) {
    found.push({ claim: LEGACY_NAME_CLAIM, value: payload[LEGACY_NAME_CLAIM], names: 'service account' });
  }
  return found;
}

/**
 * The caller a verified token names. `sub` is authoritative; the `kubernetes.io` claims (and their
 * legacy forms) must agree with it when present, because a token that says two things is either
 * forged by a confused issuer or not a Kubernetes token at all.
 */
export function callerFromClaims(payload: JWTPayload, issuer: string): Caller {
  const { namespace, serviceAccount } = parseServiceAccountSubject(payload.sub);
  const expected = { namespace, 'service account': serviceAccount };
  const mismatches = restatedClaims(payload)
    .filter(({ value, names }) => names === undefined || value !== expected[names])
    .map(({ claim, value, names }) =>
      names === undefined
        ? `"${claim}" is ${quoteForMessage(value)}, not an object`
        : `"${claim}" is ${quoteForMessage(value)} but "sub" names ${names} "${expected[names]}"`,
    );
  if (mismatches.length > 0) {
    throw unauthenticated(
      'IDENTITY_TOKEN_CLAIMS_MISMATCH',
      `the token contradicts itself: ${mismatches.join('; ')}; it is refused — check the issuer ${quoteForMessage(issuer)} that made it`,
    );
  }
  const caller: Caller = { namespace, serviceAccount, via: 'token', issuer, subject: payload.sub as string };
  const pod = podOf(payload);
  return pod ? { ...caller, pod } : caller;
}

/** A pod-bound token's `kubernetes.io.pod` claim, when well formed. */
function podOf(payload: JWTPayload): Caller['pod'] {
  const k8s = payload['kubernetes.io'];
  const pod = isObject(k8s) ? k8s.pod : undefined;
  if (!isObject(pod) || typeof pod.name !== 'string') return undefined;
  return { name: pod.name, ...(typeof pod.uid === 'string' ? { uid: pod.uid } : {}) };
}
