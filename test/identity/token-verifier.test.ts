// The local-JWKS TokenVerifier beyond the shared conformance suite: exact messages, clock skew,
// key rotation, several issuers side by side, and the configuration it refuses.
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { exportJWK, type JSONWebKeySet, type JWTPayload, SignJWT } from 'jose';
import { isMeshcaError } from '../../src/errors.js';
import {
  ALLOWED_TOKEN_ALGORITHMS,
  createTokenVerifier,
  type TokenVerifier,
  type TrustedIssuer,
} from '../../src/identity/token-verifier.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const NOW = new Date('2031-03-04T05:06:07.000Z');
const NOW_S = NOW.getTime() / 1000;
const A = 'https://a.example';
const B = 'https://b.example';

const ecKey = async (namedCurve = 'prime256v1') =>
  (await generateKeyPairAsync('ec', { namedCurve })).privateKey;
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function jwksOf(keys: Array<{ key: KeyObject; kid?: string }>): Promise<JSONWebKeySet> {
  return {
    keys: await Promise.all(
      keys.map(async ({ key, kid }) => ({
        ...(await exportJWK(key)),
        ...(kid === undefined ? {} : { kid }),
      })),
    ).then((jwks) => jwks.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub)),
  };
}

function claims(iss: string, overrides: JWTPayload = {}): JWTPayload {
  return {
    iss,
    aud: ['istio-ca'],
    sub: 'system:serviceaccount:shop:cart',
    iat: NOW_S,
    nbf: NOW_S,
    exp: NOW_S + 3600,
    ...overrides,
  };
}

function sign(
  payload: JWTPayload,
  key: KeyObject,
  header: { alg?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', ...header }).sign(key);
}

async function refusal(verifier: TokenVerifier, token: string, now = NOW) {
  const err = await verifier.verify(token, now).then(
    (caller) => assert.fail(`accepted as ${JSON.stringify(caller)}`),
    (e: unknown) => e,
  );
  assert.ok(isMeshcaError(err), String(err));
  return err;
}

async function refuses(verifier: TokenVerifier, token: string, code: string, message: string, now = NOW) {
  const err = await refusal(verifier, token, now);
  assert.equal(err.kind, 'unauthenticated');
  assert.equal(err.code, code);
  assert.equal(err.message, message);
}

describe('createTokenVerifier', () => {
  let keyA: KeyObject;
  let keyB: KeyObject;
  let verifier: TokenVerifier;

  before(async () => {
    keyA = await ecKey();
    keyB = await ecKey();
    verifier = createTokenVerifier([
      { issuer: A, audiences: ['istio-ca'], jwks: await jwksOf([{ key: keyA, kid: 'a1' }]) },
      { issuer: B, audiences: ['b-only'], jwks: await jwksOf([{ key: keyB, kid: 'b1' }]) },
    ]);
  });

  it('says exactly why it refuses a token', async () => {
    const ok = (overrides: JWTPayload = {}) => sign(claims(A, overrides), keyA, { kid: 'a1' });
    const at = `checked at ${NOW.toISOString()}, allowing 30 s of clock skew`;
    await refuses(
      verifier,
      await ok({ exp: NOW_S - 60 }),
      'IDENTITY_TOKEN_EXPIRED',
      `the token expired at 2031-03-04T05:05:07.000Z (${at}); present a fresh token`,
    );
    await refuses(
      verifier,
      await ok({ nbf: NOW_S + 60 }),
      'IDENTITY_TOKEN_NOT_YET_VALID',
      `the token is not valid before 2031-03-04T05:07:07.000Z (${at}); check the clocks of the issuer and of this CA`,
    );
    await refuses(
      verifier,
      await ok({ aud: 'b-only' }),
      'IDENTITY_TOKEN_AUDIENCE',
      'the token is for audience "b-only", but tokens of issuer "https://a.example" are accepted only for audience "istio-ca"; present a token minted for one of those (e.g. a projected token with audience "istio-ca")',
    );
    await refuses(
      verifier,
      await sign(claims('https://c.example'), keyA),
      'IDENTITY_TOKEN_UNKNOWN_ISSUER',
      'the token is from issuer "https://c.example", which is not trusted; trusted issuers: "https://a.example", "https://b.example" — present a token from a trusted issuer, or add this issuer and its JWKS to JWT_RULE',
    );
    await refuses(
      verifier,
      await sign(claims(A), keyB, { kid: 'a1' }),
      'IDENTITY_TOKEN_BAD_SIGNATURE',
      `the token's signature does not verify with the keys of issuer "https://a.example": it was altered, forged, or signed by a key not in that issuer's JWKS (if the issuer rotated its keys, refresh its JWKS)`,
    );
    await refuses(
      verifier,
      await sign(claims(A), keyB, { kid: 'b1' }),
      'IDENTITY_TOKEN_BAD_SIGNATURE',
      'the token was signed by key "b1" (ES256), which is not in the JWKS of issuer "https://a.example"; it is forged or signed by an unknown key (if the issuer rotated its keys, refresh its JWKS)',
    );
    const algs = ALLOWED_TOKEN_ALGORITHMS.join(', ');
    await refuses(
      verifier,
      `${b64url({ alg: 'none' })}.${b64url(claims(A))}.`,
      'IDENTITY_TOKEN_ALG_NOT_ALLOWED',
      `the token is unsigned ("alg": "none"); meshca accepts only ${algs}`,
    );
    await refuses(
      verifier,
      `${b64url({ alg: 'HS256' })}.${b64url(claims(A))}.c2ln`,
      'IDENTITY_TOKEN_ALG_NOT_ALLOWED',
      `the token is MAC'ed with a shared secret ("alg": "HS256"), which a holder of the issuer's public key could forge; meshca accepts only ${algs}`,
    );
    await refuses(
      verifier,
      await ok({ sub: 'alice' }),
      'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT',
      'the token\'s subject ("sub" claim) "alice" is not a Kubernetes service account; expected "system:serviceaccount:<namespace>:<name>" with valid Kubernetes names — present a service-account token, not a user or other OIDC token',
    );
    await refuses(
      verifier,
      await ok({
        'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'admin', uid: 'u' } },
      }),
      'IDENTITY_TOKEN_CLAIMS_MISMATCH',
      'the token contradicts itself: "kubernetes.io.namespace" is "kube-system" but "sub" names namespace "shop"; "kubernetes.io.serviceaccount.name" is "admin" but "sub" names service account "cart"; it is refused — check the issuer "https://a.example" that made it',
    );
    await refuses(
      verifier,
      '',
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is empty; send "authorization: Bearer <service-account JWT>"',
    );
    await refuses(
      verifier,
      'not-a-jwt',
      'IDENTITY_TOKEN_MALFORMED',
      'the bearer token is not a JWT: expected three dot-separated base64url parts (header.payload.signature)',
    );
  });

  it('allows 30 seconds of clock skew either way, and no more', async () => {
    const token = await sign(claims(A, { nbf: NOW_S, exp: NOW_S + 3600 }), keyA, { kid: 'a1' });
    const at = (s: number) => new Date((NOW_S + s) * 1000);
    await verifier.verify(token, at(-30));
    await verifier.verify(token, at(3600 + 29));
    assert.equal((await refusal(verifier, token, at(-31))).code, 'IDENTITY_TOKEN_NOT_YET_VALID');
    assert.equal((await refusal(verifier, token, at(3600 + 30))).code, 'IDENTITY_TOKEN_EXPIRED');
  });

  it('holds each issuer to its own keys and audiences', async () => {
    const fromB = await sign(claims(B, { aud: ['b-only'] }), keyB, { kid: 'b1' });
    assert.equal((await verifier.verify(fromB, NOW)).issuer, B);
    // B's token under A's name: the iss picks A's keys, which do not verify it.
    const posing = await sign(claims(A), keyB, { kid: 'b1' });
    assert.equal((await refusal(verifier, posing)).code, 'IDENTITY_TOKEN_BAD_SIGNATURE');
    const wrongAudience = await sign(claims(B), keyB, { kid: 'b1' });
    assert.equal((await refusal(verifier, wrongAudience)).code, 'IDENTITY_TOKEN_AUDIENCE');
  });

  it('tries every key of a JWKS mid-rotation when the token names no kid', async () => {
    const [old, current, stranger] = await Promise.all([ecKey(), ecKey(), ecKey()]);
    const rotating = createTokenVerifier([
      { issuer: A, audiences: ['istio-ca'], jwks: await jwksOf([{ key: old }, { key: current }]) },
    ]);
    assert.equal((await rotating.verify(await sign(claims(A), old), NOW)).serviceAccount, 'cart');
    assert.equal((await rotating.verify(await sign(claims(A), current), NOW)).serviceAccount, 'cart');
    const err = await refusal(rotating, await sign(claims(A), stranger));
    assert.equal(err.code, 'IDENTITY_TOKEN_BAD_SIGNATURE');
  });

  it('accepts every asymmetric algorithm it lists', async () => {
    const rsa = (await generateKeyPairAsync('rsa', { modulusLength: 2048 })).privateKey;
    const ed = (await generateKeyPairAsync('ed25519')).privateKey;
    const cases: Array<[string, KeyObject]> = [
      ['RS256', rsa],
      ['RS384', rsa],
      ['RS512', rsa],
      ['PS256', rsa],
      ['PS384', rsa],
      ['PS512', rsa],
      ['ES256', await ecKey('prime256v1')],
      ['ES384', await ecKey('secp384r1')],
      ['ES512', await ecKey('secp521r1')],
      ['EdDSA', ed],
      ['Ed25519', ed],
    ];
    assert.deepEqual(
      cases.map(([alg]) => alg),
      ALLOWED_TOKEN_ALGORITHMS,
    );
    for (const [alg, key] of cases) {
      const v = createTokenVerifier([{ issuer: A, audiences: ['istio-ca'], jwks: await jwksOf([{ key }]) }]);
      const caller = await v.verify(await sign(claims(A), key, { alg }), NOW);
      assert.equal(caller.namespace, 'shop', alg);
    }
  });

  it('says when it trusts no issuer at all', async () => {
    await refuses(
      createTokenVerifier([]),
      await sign(claims(A), keyA),
      'IDENTITY_TOKEN_UNKNOWN_ISSUER',
      'the token is from issuer "https://a.example", which is not trusted; meshca trusts no token issuers (configure them with JWT_RULE) — present a token from a trusted issuer, or add this issuer and its JWKS to JWT_RULE',
    );
  });

  it('reports an unusable trusted key as its own failure, not as a bad token', async () => {
    const weak = (await generateKeyPairAsync('rsa', { modulusLength: 1024 })).privateKey;
    const v = createTokenVerifier([
      { issuer: A, audiences: ['istio-ca'], jwks: await jwksOf([{ key: weak }]) },
    ]);
    const err = await refusal(
      v,
      await sign(claims(A), (await generateKeyPairAsync('rsa', { modulusLength: 2048 })).privateKey, {
        alg: 'RS256',
      }),
    );
    assert.equal(err.kind, 'internal');
    assert.equal(err.code, 'IDENTITY_TOKEN_VERIFY_FAILED');
    assert.match(
      err.message,
      /^verifying a token from issuer "https:\/\/a\.example" failed unexpectedly \(.*\); check that issuer's JWKS$/,
    );
  });

  it('refuses a configuration it cannot use', async () => {
    const jwks = await jwksOf([{ key: keyA }]);
    const cases: Array<[TrustedIssuer[], string, string]> = [
      [
        [
          { issuer: A, audiences: ['istio-ca'], jwks },
          { issuer: A, audiences: ['x'], jwks },
        ],
        'IDENTITY_ISSUER_DUPLICATE',
        'token issuer "https://a.example" is trusted twice; merge its keys into one JWKS and list it once',
      ],
      [
        [{ issuer: A, audiences: [], jwks }],
        'IDENTITY_ISSUER_NO_AUDIENCE',
        'token issuer "https://a.example" has no audiences, so none of its tokens could be accepted; give at least one (usually "istio-ca")',
      ],
      [
        [{ issuer: A, audiences: ['istio-ca'], jwks: { keys: 'none' } as unknown as JSONWebKeySet }],
        'IDENTITY_JWKS_INVALID',
        'the JWKS of token issuer "https://a.example" is malformed (JSON Web Key Set malformed); give a JSON Web Key Set: {"keys": [...]}',
      ],
    ];
    for (const [issuers, code, message] of cases) {
      assert.throws(
        () => createTokenVerifier(issuers),
        (err) => {
          assert.ok(isMeshcaError(err));
          assert.deepEqual([err.kind, err.code, err.message], ['config', code, message]);
          return true;
        },
      );
    }
  });
});
