// An external issuer (a stand-in Kubernetes API server with its own RSA key, its JWKS in a file,
// trusted through JWT_RULE) passes the TokenVerifier conformance suite; so do legacy tokens.
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyObject, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import { isMeshcaError } from '../../src/errors.js';
import { parseJwtRules } from '../../src/identity/parse-jwt-rules.js';
import {
  createTokenVerifier,
  LEGACY_KUBERNETES_ISSUER,
  type TokenVerifier,
} from '../../src/identity/token-verifier.js';
import { runTokenVerifierConformance } from './token-verifier.conformance.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const API_SERVER = 'https://kubernetes.default.svc.cluster.local';

/** A Kubernetes API server's signing key and the JWKS it would serve at /openid/v1/jwks. */
async function apiServerKey(): Promise<{ key: KeyObject; kid: string; jwks: object }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return {
    key: privateKey,
    kid,
    jwks: { keys: [{ use: 'sig', kty: 'RSA', kid, alg: 'RS256', n: jwk.n, e: jwk.e }] },
  };
}

function trustFromFile(rules: Array<Record<string, unknown>>): TokenVerifier {
  return createTokenVerifier(
    parseJwtRules(JSON.stringify(rules), 'JWT_RULE', (path) => readFileSync(path, 'utf8')),
  );
}

runTokenVerifierConformance('external issuer from JWT_RULE (RS256 Kubernetes API server)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshca-identity-'));
  const { key, kid, jwks } = await apiServerKey();
  const jwksFile = join(dir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify(jwks));
  const verifier = trustFromFile([{ issuer: API_SERVER, audiences: ['istio-ca'], jwks_file: jwksFile }]);
  return {
    verifier,
    issuer: API_SERVER,
    audience: 'istio-ca',
    signingKey: key,
    alg: 'RS256',
    kid,
    // What kube-apiserver puts in a projected token (header: alg and kid only, no typ).
    async mintServiceAccountToken({ namespace, serviceAccount, now, ttlSeconds }) {
      const iat = Math.floor(now.getTime() / 1000);
      return new SignJWT({
        'kubernetes.io': {
          namespace,
          pod: { name: `${serviceAccount}-7d9f8-x2x9p`, uid: randomUUID() },
          serviceaccount: { name: serviceAccount, uid: randomUUID() },
          warnafter: iat + 3607,
        },
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(API_SERVER)
        .setAudience(['istio-ca'])
        .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(randomUUID())
        .sign(key);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('legacy (secret-based) Kubernetes service-account tokens', () => {
  let legacyDir: string;
  let key: KeyObject;
  let verifier: TokenVerifier;
  const now = new Date('2031-03-04T05:06:07Z');

  before(async () => {
    legacyDir = await mkdtemp(join(tmpdir(), 'meshca-identity-'));
    const apiServer = await apiServerKey();
    key = apiServer.key;
    const { kid: _kid, ...jwks } = apiServer.jwks as { kid?: string };
    const jwksFile = join(legacyDir, 'sa.pub.jwks');
    await writeFile(jwksFile, JSON.stringify(jwks));
    verifier = trustFromFile([{ issuer: LEGACY_KUBERNETES_ISSUER, jwks_file: jwksFile }]);
  });
  after(() => rm(legacyDir, { recursive: true, force: true }));

  // Exactly what a pre-1.21 token secret holds: no aud, no exp, no kid.
  const legacyToken = (ns: string, sa: string, overrides: Record<string, unknown> = {}) =>
    new SignJWT({
      iss: LEGACY_KUBERNETES_ISSUER,
      'kubernetes.io/serviceaccount/namespace': ns,
      'kubernetes.io/serviceaccount/secret.name': `${sa}-token-x7k2q`,
      'kubernetes.io/serviceaccount/service-account.name': sa,
      'kubernetes.io/serviceaccount/service-account.uid': randomUUID(),
      sub: `system:serviceaccount:${ns}:${sa}`,
      ...overrides,
    })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(key);

  it('are accepted without aud and exp when the legacy issuer is trusted', async () => {
    assert.deepEqual(await verifier.verify(await legacyToken('shop', 'cart'), now), {
      namespace: 'shop',
      serviceAccount: 'cart',
      via: 'token',
      issuer: LEGACY_KUBERNETES_ISSUER,
      subject: 'system:serviceaccount:shop:cart',
    });
  });

  it('are refused when the legacy claims contradict the subject', async () => {
    const token = await legacyToken('shop', 'cart', {
      'kubernetes.io/serviceaccount/namespace': 'kube-system',
    });
    await assert.rejects(verifier.verify(token, now), (err) => {
      assert.ok(isMeshcaError(err));
      assert.equal(err.code, 'IDENTITY_TOKEN_CLAIMS_MISMATCH');
      assert.equal(
        err.message,
        'the token contradicts itself: "kubernetes.io/serviceaccount/namespace" is "kube-system" but "sub" names namespace "shop"; it is refused — check the issuer "kubernetes/serviceaccount" that made it',
      );
      return true;
    });
  });

  it('are still held to an audience when they carry one', async () => {
    const token = await legacyToken('shop', 'cart', { aud: 'vault' });
    await assert.rejects(verifier.verify(token, now), { code: 'IDENTITY_TOKEN_AUDIENCE' });
  });

  it('are refused when the legacy issuer is not trusted', async () => {
    const other = trustFromFile([{ issuer: API_SERVER, jwks_file: join(legacyDir, 'sa.pub.jwks') }]);
    await assert.rejects(other.verify(await legacyToken('shop', 'cart'), now), {
      code: 'IDENTITY_TOKEN_UNKNOWN_ISSUER',
    });
  });
});
