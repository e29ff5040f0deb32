// The embedded service-account token issuer: meshca's stand-in for the Kubernetes API server's
// token signer when there is no cluster. Its ES256 key and public JWKS live in `<data-dir>/issuer/`.
import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import { configError, invalidInput, isMeshcaError, type MeshcaError } from '../errors.js';
import {
  createFileExclusive,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  writeFileAtomic,
} from '../lib/atomic-file.js';
import { diskFullError } from '../lib/disk-full.js';
import { makePrivateDirectory } from '../lib/make-private-directory.js';
import { describeKey, encodePrivateKeyPem, generateKey, publicKeyOf, readPrivateKey } from '../pki/keys.js';
import { quoteForMessage, validateServiceAccountName } from './kubernetes-names.js';
import { ISTIO_CA_AUDIENCE } from './token-verifier.js';

export const DEFAULT_TOKEN_ISSUER = 'https://meshca.local/token-issuer';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const ISSUER_KEY_FILE = 'key.pem';
export const ISSUER_JWKS_FILE = 'jwks.json';
const ALG = 'ES256';

export interface MintOptions {
  namespace: string;
  serviceAccount: string;
  /** Lifetime of the token; 3600 unless given. */
  ttlSeconds?: number;
  /** `aud` claim; `istio-ca` unless given. Always written as an array, as Kubernetes does. */
  audience?: string | string[];
  /** The clock, injectable so tests can mint tokens that are already expired or not yet valid. */
  now?: Date;
}

export interface TokenIssuer {
  readonly issuer: string;
  /** The public key set verifiers need: a fresh copy on each call. */
  jwks(): JSONWebKeySet;
  /** A Kubernetes-shaped service-account token for `namespace`/`serviceAccount`. */
  mint(opts: MintOptions): Promise<string>;
}

function ioError(dir: string, err: unknown): MeshcaError {
  const e = err as NodeJS.ErrnoException;
  return configError(
    'IDENTITY_ISSUER_IO',
    `${dir}: cannot read or write the token issuer's files (${e.code ?? 'error'}: ${e.message}); check that the data directory exists and is writable by this user`,
    err,
  );
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function loadOrCreateKeyPem(keyPath: string): Promise<string> {
  const existing = await readIfExists(keyPath);
  if (existing !== undefined) return existing;
  const fresh = encodePrivateKeyPem(await generateKey('ec-p256'));
  // Created exclusively: when two processes start on a fresh data directory at once, exactly one
  // key lands on disk and the loser adopts it, so every token verifies against one JWKS.
  if (await createFileExclusive(keyPath, fresh, PRIVATE_FILE_MODE)) return fresh;
  return readFile(keyPath, 'utf8');
}

function parseIssuerKey(pem: string, keyPath: string): KeyObject {
  const remedy =
    'fix it, or delete it to have a new key made (tokens signed by the old key then stop verifying)';
  let key: KeyObject;
  try {
    key = readPrivateKey(pem, keyPath);
  } catch (err) {
    const reason = isMeshcaError(err) ? err.message : String(err);
    throw configError('IDENTITY_ISSUER_KEY_INVALID', `token issuer key unusable: ${reason}; ${remedy}`, err);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw configError(
      'IDENTITY_ISSUER_KEY_INVALID',
      `${keyPath}: the token issuer signs ${ALG} and needs an EC P-256 key, but this is an ${describeKey(key)} key; ${remedy}`,
    );
  }
  return key;
}

async function publicJwkOf(key: KeyObject): Promise<JWK> {
  const { kty, crv, x, y } = await exportJWK(publicKeyOf(key));
  const kid = await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256');
  return { kty, crv, x, y, kid, alg: ALG, use: 'sig' };
}

/**
 * Kubernetes gives each ServiceAccount object a random uid; with no objects here, one derived from
 * the names keeps it stable across tokens and restarts, as it is for a live object.
 */
function serviceAccountUid(issuer: string, namespace: string, serviceAccount: string): string {
  const b = createHash('sha256').update(`${issuer}\0${namespace}\0${serviceAccount}`).digest();
  b[6] = (b[6]! & 0x0f) | 0x80; // UUID version 8: application-defined
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = b.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function audiencesOf(audience: string | string[]): string[] {
  const list = Array.isArray(audience) ? audience : [audience];
  if (list.length === 0 || list.some((a) => typeof a !== 'string' || a === '')) {
    throw invalidInput(
      'IDENTITY_TOKEN_AUDIENCE_INVALID',
      `token audience ${quoteForMessage(audience)} is not usable; give one or more non-empty strings, e.g. "${ISTIO_CA_AUDIENCE}"`,
    );
  }
  return list;
}

function issuedAt(now: Date, ttlSeconds: number): { iat: number; exp: number } {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw invalidInput(
      'IDENTITY_TOKEN_TTL_INVALID',
      `token lifetime ${quoteForMessage(ttlSeconds)} is not usable; give a whole number of seconds greater than 0`,
    );
  }
  const iat = Math.floor(now.getTime() / 1000);
  if (!Number.isFinite(iat)) {
    throw invalidInput('IDENTITY_TOKEN_TIME_INVALID', 'the clock given to mint a token is not a valid date');
  }
  return { iat, exp: iat + ttlSeconds };
}

/**
 * Opens the issuer kept in `dir`, making its key on first use. jwks.json is always re-derived from
 * key.pem (and rewritten if it differs), so a stale or edited jwks.json can never diverge from
 * the key that signs.
 */
export async function loadOrCreateTokenIssuer(
  dir: string,
  opts: { issuer?: string } = {},
): Promise<TokenIssuer> {
  const issuer = opts.issuer ?? DEFAULT_TOKEN_ISSUER;
  if (typeof issuer !== 'string' || issuer.trim() === '' || /\s/.test(issuer)) {
    throw configError(
      'IDENTITY_ISSUER_NAME_INVALID',
      `token issuer name ${quoteForMessage(issuer)} is not usable; give a non-empty name without spaces, e.g. "${DEFAULT_TOKEN_ISSUER}"`,
    );
  }
  const keyPath = join(dir, ISSUER_KEY_FILE);
  const jwksPath = join(dir, ISSUER_JWKS_FILE);

  let key: KeyObject;
  let publicJwk: JWK;
  try {
    await makePrivateDirectory(dir);
    key = parseIssuerKey(await loadOrCreateKeyPem(keyPath), keyPath);
    publicJwk = await publicJwkOf(key);
    const jwksText = `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`;
    if ((await readIfExists(jwksPath)) !== jwksText)
      await writeFileAtomic(jwksPath, jwksText, PUBLIC_FILE_MODE);
  } catch (err) {
    throw isMeshcaError(err) ? err : (diskFullError(err, dir) ?? ioError(dir, err));
  }
  const kid = publicJwk.kid!;

  return {
    issuer,
    jwks: () => ({ keys: [structuredClone(publicJwk)] }),
    async mint({ namespace, serviceAccount, ttlSeconds, audience, now }: MintOptions): Promise<string> {
      validateServiceAccountName(namespace, serviceAccount);
      const aud = audiencesOf(audience ?? ISTIO_CA_AUDIENCE);
      const { iat, exp } = issuedAt(now ?? new Date(), ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS);
      const uid = serviceAccountUid(issuer, namespace, serviceAccount);
      return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid } } })
        .setProtectedHeader({ alg: ALG, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(aud)
        .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(key);
    },
  };
}
