// JWT_RULE: the external token issuers the operator trusts (as Istio's istiod reads them), each
// with its audiences and its public keys, given inline or as a JWKS file on disk.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { configError } from '../errors.js';
import { quoteForMessage } from './kubernetes-names.js';
import { ALLOWED_TOKEN_ALGORITHMS, ISTIO_CA_AUDIENCE, type TrustedIssuer } from './token-verifier.js';

const FIELDS = ['issuer', 'audiences', 'jwks', 'jwks_file'];
// Istio's JWTRule spells the remote key URL both ways (protobuf JSON and field name).
const REMOTE_FIELDS = ['jwksUri', 'jwks_uri'];
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];
const MIN_RSA_BITS = 2048;
const FETCH_HINT =
  'download the JWKS once (e.g. `kubectl get --raw /openid/v1/jwks > jwks.json` for a Kubernetes API server) and give its path as jwks_file';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Checks one JWK; returns true when it can verify signatures, pushing a problem when it is wrong. */
function checkKey(jwk: unknown, label: string, problems: string[]): boolean {
  if (!isObject(jwk)) {
    problems.push(`${label}: expected a JSON Web Key object, found ${typeName(jwk)}`);
    return false;
  }
  if (jwk.kty === 'oct') {
    problems.push(
      `${label}: is a symmetric ("oct") key; meshca verifies only public-key signatures (HS* tokens are refused), remove it`,
    );
    return false;
  }
  const secret = PRIVATE_MEMBERS.filter((m) => m in jwk);
  if (secret.length > 0) {
    problems.push(
      `${label}: holds private key material (${secret.map((m) => `"${m}"`).join(', ')}); give only the issuer's public keys`,
    );
    return false;
  }
  if (jwk.alg !== undefined && !ALLOWED_TOKEN_ALGORITHMS.includes(jwk.alg as string)) {
    problems.push(
      `${label}: declares "alg" ${quoteForMessage(jwk.alg)}, which meshca never accepts; allowed: ${ALLOWED_TOKEN_ALGORITHMS.join(', ')}`,
    );
    return false;
  }
  let bits: number | undefined;
  try {
    bits = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails?.modulusLength;
  } catch (err) {
    problems.push(`${label}: is not a usable public key (${(err as Error).message})`);
    return false;
  }
  // jose refuses RS*/PS* verification with smaller moduli; better to say so now than at every token.
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    problems.push(
      `${label}: is an RSA ${bits} key; signatures are verified only with RSA keys of ${MIN_RSA_BITS} bits or more`,
    );
    return false;
  }
  // Keys published for encryption are legitimately listed by OIDC providers; they are just not ours.
  return jwk.use === undefined || jwk.use === 'sig';
}

function checkJwks(value: unknown, label: string, problems: string[]): JSONWebKeySet | undefined {
  if (!isObject(value) || !Array.isArray(value.keys)) {
    problems.push(`${label}: expected a JSON Web Key Set {"keys": [...]}, found ${typeName(value)}`);
    return undefined;
  }
  const before = problems.length;
  const usable = value.keys.filter((jwk, i) => checkKey(jwk, `${label}.keys[${i}]`, problems)).length;
  if (problems.length > before) return undefined;
  if (usable === 0) {
    problems.push(`${label}: holds no key usable for verifying signatures; give the issuer's signing keys`);
    return undefined;
  }
  return value as unknown as JSONWebKeySet;
}

function parseJson(text: string, label: string, problems: string[]): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    problems.push(`${label}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
}

function readJwks(
  rule: Record<string, unknown>,
  label: string,
  problems: string[],
  readFile: (path: string) => string,
) {
  for (const field of REMOTE_FIELDS.filter((f) => f in rule)) {
    problems.push(`${label}.${field}: remote JWKS URLs are not fetched; ${FETCH_HINT}`);
  }
  const inline = rule.jwks;
  const file = rule.jwks_file;
  if (inline !== undefined && file !== undefined) {
    problems.push(`${label}: give either jwks or jwks_file, not both`);
    return undefined;
  }
  if (inline !== undefined) {
    const value = typeof inline === 'string' ? parseJson(inline, `${label}.jwks`, problems) : inline;
    return value === undefined ? undefined : checkJwks(value, `${label}.jwks`, problems);
  }
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') {
      problems.push(`${label}.jwks_file: expected the path of a JWKS file, found ${quoteForMessage(file)}`);
      return undefined;
    }
    const where = `${label}.jwks_file (${file})`;
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`${where}: cannot read it (${e.code ?? e.message}); check the path and its permissions`);
      return undefined;
    }
    const value = parseJson(text, where, problems);
    return value === undefined ? undefined : checkJwks(value, where, problems);
  }
  if (!REMOTE_FIELDS.some((f) => f in rule)) {
    problems.push(
      `${label}: no public keys; give them as jwks (an inline JWKS) or jwks_file (the path of a JWKS file)`,
    );
  }
  return undefined;
}

function readAudiences(value: unknown, label: string, problems: string[]): string[] | undefined {
  if (value === undefined) return [ISTIO_CA_AUDIENCE];
  if (!Array.isArray(value) || value.some((a) => typeof a !== 'string' || a === '')) {
    problems.push(
      `${label}.audiences: expected an array of non-empty strings, found ${quoteForMessage(value)}`,
    );
    return undefined;
  }
  if (value.length === 0) {
    problems.push(
      `${label}.audiences: is empty, so no token would be accepted; list the audiences, or omit it for "${ISTIO_CA_AUDIENCE}"`,
    );
    return undefined;
  }
  return value as string[];
}

function readRule(
  rule: unknown,
  label: string,
  problems: string[],
  readFile: (path: string) => string,
): TrustedIssuer | undefined {
  if (!isObject(rule)) {
    problems.push(`${label}: expected a JWT rule object, found ${typeName(rule)}`);
    return undefined;
  }
  for (const field of Object.keys(rule).filter((f) => !FIELDS.includes(f) && !REMOTE_FIELDS.includes(f))) {
    problems.push(`${label}.${field}: unknown field; a JWT rule has ${FIELDS.join(', ')}`);
  }
  const { issuer } = rule;
  if (typeof issuer !== 'string' || issuer.trim() === '' || /\s/.test(issuer)) {
    const found = issuer === undefined ? 'it is missing' : `found ${quoteForMessage(issuer)}`;
    problems.push(`${label}.issuer: expected the exact "iss" of the issuer's tokens, ${found}`);
  }
  const audiences = readAudiences(rule.audiences, label, problems);
  const jwks = readJwks(rule, label, problems, readFile);
  if (typeof issuer !== 'string' || !audiences || !jwks) return undefined;
  return typeof rule.jwks_file === 'string'
    ? { issuer, audiences, jwks, jwksFile: rule.jwks_file }
    : { issuer, audiences, jwks };
}

/** Re-reads a rule's jwks_file (a key rotation): its keys, or a config error saying what is wrong. */
export function readJwksFile(path: string, readFile: (path: string) => string): JSONWebKeySet {
  const problems: string[] = [];
  const jwks = readJwks({ jwks_file: path }, 'jwks_file', problems, readFile);
  if (!jwks || problems.length > 0) {
    throw configError('IDENTITY_JWKS_FILE_INVALID', `${path}: ${problems.join('; ') || 'no usable keys'}`);
  }
  return jwks;
}

/**
 * Parses JWT rules from `json` (one object or an array); `source` names where it came from in
 * messages, `readFile` reads jwks_file paths as given. Every problem is reported in one error.
 */
export function parseJwtRules(
  json: string,
  source: string,
  readFile: (path: string) => string,
): TrustedIssuer[] {
  const problems: string[] = [];
  const doc = parseJson(json, source, problems);
  let rules: Array<[unknown, string]> = [];
  if (Array.isArray(doc)) rules = doc.map((rule, i) => [rule, `${source}[${i}]`]);
  else if (isObject(doc)) rules = [[doc, source]];
  else if (problems.length === 0) {
    problems.push(`${source}: expected a JWT rule object or an array of them, found ${typeName(doc)}`);
  }

  const issuers: TrustedIssuer[] = [];
  const seen = new Map<string, string>();
  for (const [rule, label] of rules) {
    const parsed = readRule(rule, label, problems, readFile);
    if (!parsed) continue;
    const first = seen.get(parsed.issuer);
    if (first !== undefined) {
      problems.push(
        `${label}.issuer: ${quoteForMessage(parsed.issuer)} is already given by ${first}; merge their keys into one rule`,
      );
      continue;
    }
    seen.set(parsed.issuer, label);
    issuers.push(parsed);
  }
  if (problems.length > 0) {
    throw configError(
      'IDENTITY_JWT_RULE_INVALID',
      `invalid JWT rules (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}): ${problems.join('; ')}`,
    );
  }
  return issuers;
}
