// Bearer-token verification: the TokenVerifier interface every backend implements, and the
// backend that checks JWTs locally against the JWKS of each issuer the operator trusts.
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  type KeyObject,
} from 'jose';
import { configError, internalError, isMeshcaError, type MeshcaError, unauthenticated } from '../errors.js';
import type { Caller } from './caller.js';
import { callerFromClaims } from './caller-from-claims.js';
import { quoteForMessage } from './kubernetes-names.js';

/** The audience Istio's agents put in the tokens they present to the CA. */
export const ISTIO_CA_AUDIENCE = 'istio-ca';
/** `iss` of pre-bound (secret-based) Kubernetes service-account tokens, which carry no `aud` and no `exp`. */
export const LEGACY_KUBERNETES_ISSUER = 'kubernetes/serviceaccount';
/** Asymmetric signatures only: `none` is unsigned and HS* would let anyone holding a public key mint tokens. */
export const ALLOWED_TOKEN_ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519', // RFC 9864's fully-specified name for EdDSA over Ed25519
];
export const CLOCK_TOLERANCE_SECONDS = 30;
// Kubernetes tokens are one or two kilobytes; anything near this is not a service-account token.
const MAX_TOKEN_CHARS = 64 * 1024;

export interface TokenVerifier {
  /** The caller the token proves, or a MeshcaError of kind 'unauthenticated' saying why not. */
  verify(token: string, now?: Date): Promise<Caller>;
}

export interface TrustedIssuer {
  /** Exact `iss` value of its tokens. */
  issuer: string;
  /** A token must carry at least one of these in `aud`. */
  audiences: string[];
  /** The issuer's public keys. */
  jwks: JSONWebKeySet;
  /** Where `jwks` was read from (JWT_RULE's jwks_file, absolute): re-read on SIGHUP and on change. */
  jwksFile?: string;
}

interface IssuerEntry {
  issuer: string;
  audiences: string[];
  getKey: JWTVerifyGetKey;
}

// Every refusal is 'unauthenticated'; the code says which check failed.
const refuse = unauthenticated;

/** A NumericDate as ISO text; one past Date's range (±8.64e12 s, e.g. "nbf": 9007199254740991) is quoted as given. */
const iso = (seconds: unknown) => {
  const date = typeof seconds === 'number' ? new Date(seconds * 1000) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : quoteForMessage(seconds);
};

const listOf = (values: readonly unknown[]) =>
  values.length === 0
    ? '(none)'
    : values
        .slice(0, 5)
        .map((v) => quoteForMessage(v))
        .join(', ') + (values.length > 5 ? `, … (${values.length} in all)` : '');

function buildIssuers(issuers: TrustedIssuer[]): Map<string, IssuerEntry> {
  const byName = new Map<string, IssuerEntry>();
  for (const { issuer, audiences, jwks } of issuers) {
    if (byName.has(issuer)) {
      throw configError(
        'IDENTITY_ISSUER_DUPLICATE',
        `token issuer ${quoteForMessage(issuer)} is trusted twice; merge its keys into one JWKS and list it once`,
      );
    }
    if (!Array.isArray(audiences) || audiences.length === 0) {
      throw configError(
        'IDENTITY_ISSUER_NO_AUDIENCE',
        `token issuer ${quoteForMessage(issuer)} has no audiences, so none of its tokens could be accepted; give at least one (usually "${ISTIO_CA_AUDIENCE}")`,
      );
    }
    let getKey: JWTVerifyGetKey;
    try {
      getKey = createLocalJWKSet(jwks);
    } catch (err) {
      throw configError(
        'IDENTITY_JWKS_INVALID',
        `the JWKS of token issuer ${quoteForMessage(issuer)} is malformed (${(err as Error).message}); give a JSON Web Key Set: {"keys": [...]}`,
        err,
      );
    }
    byName.set(issuer, { issuer, audiences: [...audiences], getKey });
  }
  return byName;
}

/** Cheap structural checks first, so garbage is named as garbage rather than as a jose internal. */
function checkShape(token: unknown): string {
  if (typeof token !== 'string' || token === '') {
    throw refuse(
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is empty; send "authorization: Bearer <service-account JWT>"',
    );
  }
  if (token.length > MAX_TOKEN_CHARS) {
    throw refuse(
      'IDENTITY_TOKEN_MALFORMED',
      `the bearer token is ${token.length} characters long, far more than any JWT meshca accepts`,
    );
  }
  const parts = token.split('.');
  if (parts.length === 5) {
    throw refuse(
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is an encrypted JWT (JWE); meshca needs a signed JWT (JWS)',
    );
  }
  if (parts.length !== 3 || parts.some((p, i) => (i < 2 && p === '') || !/^[A-Za-z0-9_-]*$/.test(p))) {
    throw refuse(
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is not a JWT: expected three dot-separated base64url parts (header.payload.signature)',
    );
  }
  return token;
}

function checkAlgorithm(token: string): string {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch (err) {
    throw refuse(
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is not a JWT: its header is not a base64url-encoded JSON object',
      err,
    );
  }
  if (typeof alg !== 'string' || !ALLOWED_TOKEN_ALGORITHMS.includes(alg)) {
    const why =
      alg === undefined
        ? 'names no signature algorithm ("alg")'
        : typeof alg === 'string' && alg.toLowerCase() === 'none'
          ? 'is unsigned ("alg": "none")'
          : typeof alg === 'string' && /^HS/i.test(alg)
            ? `is MAC'ed with a shared secret ("alg": ${quoteForMessage(alg)}), which a holder of the issuer's public key could forge`
            : `uses "alg" ${quoteForMessage(alg)}`;
    throw refuse(
      'IDENTITY_TOKEN_ALG_NOT_ALLOWED',
      `the token ${why}; meshca accepts only ${ALLOWED_TOKEN_ALGORITHMS.join(', ')}`,
    );
  }
  return alg;
}

function unverifiedIssuer(token: string, issuers: Map<string, IssuerEntry>): IssuerEntry {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch (err) {
    throw refuse(
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is not a JWT: its payload is not a base64url-encoded JSON object',
      err,
    );
  }
  const entry = typeof iss === 'string' ? issuers.get(iss) : undefined;
  if (entry) return entry;
  const trusted =
    issuers.size === 0
      ? 'meshca trusts no token issuers (configure them with JWT_RULE)'
      : `trusted issuers: ${listOf([...issuers.keys()])}`;
  const named =
    iss === undefined ? 'names no issuer ("iss" claim)' : `is from issuer ${quoteForMessage(iss)}`;
  throw refuse(
    'IDENTITY_TOKEN_UNKNOWN_ISSUER',
    `the token ${named}, which is not trusted; ${trusted} — present a token from a trusted issuer, or add this issuer and its JWKS to JWT_RULE`,
  );
}

/**
 * jwtVerify against a key set; when several keys could match (a token without `kid`), each is
 * tried, as a JWKS mid-rotation legitimately holds more than one key per algorithm.
 */
async function verifyAgainstKeySet(token: string, entry: IssuerEntry, options: JWTVerifyOptions) {
  try {
    return await jwtVerify(token, entry.getKey, options);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw err;
    let lastFailure: unknown = err;
    for await (const key of err as AsyncIterable<KeyObject>) {
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        if ((inner as { code?: string }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw inner;
        lastFailure = inner;
      }
    }
    throw lastFailure;
  }
}

/** Turns a jose failure into the refusal an operator can act on. */
function refusalOf(err: unknown, entry: IssuerEntry, alg: string, token: string, now: Date): MeshcaError {
  if (isMeshcaError(err)) return err;
  const e = err as { code?: string; claim?: string; reason?: string; payload?: JWTPayload; message?: string };
  const at = `checked at ${now.toISOString()}, allowing ${CLOCK_TOLERANCE_SECONDS} s of clock skew`;
  const issuer = quoteForMessage(entry.issuer);
  const rotated = 'if the issuer rotated its keys, refresh its JWKS';
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return refuse(
        'IDENTITY_TOKEN_EXPIRED',
        `the token expired at ${iso(e.payload?.exp)} (${at}); present a fresh token`,
        err,
      );
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf' && e.reason === 'check_failed') {
        return refuse(
          'IDENTITY_TOKEN_NOT_YET_VALID',
          `the token is not valid before ${iso(e.payload?.nbf)} (${at}); check the clocks of the issuer and of this CA`,
          err,
        );
      }
      if (e.reason === 'missing' && e.claim === 'exp') {
        return refuse(
          'IDENTITY_TOKEN_MALFORMED',
          'the token has no "exp" claim; meshca accepts only tokens that expire',
          err,
        );
      }
      return refuse(
        'IDENTITY_TOKEN_MALFORMED',
        `the token's "${e.claim}" claim is not valid (${e.message})`,
        err,
      );
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return refuse(
        'IDENTITY_TOKEN_BAD_SIGNATURE',
        `the token's signature does not verify with the keys of issuer ${issuer}: it was altered, forged, or signed by a key not in that issuer's JWKS (${rotated})`,
        err,
      );
    case 'ERR_JWKS_NO_MATCHING_KEY': {
      const kid = decodeProtectedHeader(token).kid;
      const what =
        kid === undefined
          ? `the JWKS of issuer ${issuer} holds no ${alg} key to check the token with`
          : `the token was signed by key ${quoteForMessage(kid)} (${alg}), which is not in the JWKS of issuer ${issuer}`;
      return refuse(
        'IDENTITY_TOKEN_BAD_SIGNATURE',
        `${what}; it is forged or signed by an unknown key (${rotated})`,
        err,
      );
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return refuse('IDENTITY_TOKEN_ALG_NOT_ALLOWED', `the token's algorithm "${alg}" is not allowed`, err);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return refuse('IDENTITY_TOKEN_MALFORMED', `the bearer token is not a valid JWT (${e.message})`, err);
    default:
      // Not the token's fault as far as we can tell: most likely an unusable key in the JWKS.
      return internalError(
        'IDENTITY_TOKEN_VERIFY_FAILED',
        `verifying a token from issuer ${issuer} failed unexpectedly (${e.message ?? String(err)}); check that issuer's JWKS`,
        err,
      );
  }
}

function checkAudience(payload: JWTPayload, entry: IssuerEntry): void {
  const { aud } = payload;
  // Legacy tokens predate audiences; trusting the legacy issuer at all is the operator's opt-in.
  if (aud === undefined && entry.issuer === LEGACY_KUBERNETES_ISSUER) return;
  const found = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (found.some((a) => typeof a === 'string' && entry.audiences.includes(a))) return;
  const plural = (n: number) => (n === 1 ? 'audience' : 'audiences');
  const accepted = `tokens of issuer ${quoteForMessage(entry.issuer)} are accepted only for ${plural(entry.audiences.length)} ${listOf(entry.audiences)}`;
  const got =
    aud === undefined ? 'has no audience ("aud" claim)' : `is for ${plural(found.length)} ${listOf(found)}`;
  throw refuse(
    'IDENTITY_TOKEN_AUDIENCE',
    `the token ${got}, but ${accepted}; present a token minted for one of those (e.g. a projected token with audience "${ISTIO_CA_AUDIENCE}")`,
  );
}

/** A verifier that checks tokens locally against each trusted issuer's JWKS. */
export function createTokenVerifier(issuers: TrustedIssuer[]): TokenVerifier {
  const byName = buildIssuers(issuers);
  return {
    async verify(token: string, now: Date = new Date()): Promise<Caller> {
      const jwt = checkShape(token);
      const alg = checkAlgorithm(jwt);
      // The unverified `iss` only picks which keys to check against; the signature then proves it.
      const entry = unverifiedIssuer(jwt, byName);
      const options: JWTVerifyOptions = {
        algorithms: [...ALLOWED_TOKEN_ALGORITHMS],
        issuer: entry.issuer,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: now,
        requiredClaims: entry.issuer === LEGACY_KUBERNETES_ISSUER ? [] : ['exp'],
      };
      let payload: JWTPayload;
      try {
        ({ payload } = await verifyAgainstKeySet(jwt, entry, options));
      } catch (err) {
        throw refusalOf(err, entry, alg, jwt, now);
      }
      checkAudience(payload, entry);
      return callerFromClaims(payload, entry.issuer);
    },
  };
}
