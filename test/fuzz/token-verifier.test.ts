// Property tests of bearer-token verification against hostile tokens: random strings, JWT-shaped
// garbage with hostile JSON (deep nesting, odd numbers, wrong types) signed or not, and mutations of
// valid tokens. Verification may only name the caller or refuse with a MeshcaError of kind
// 'unauthenticated'; a mutated token that still verifies must name the same caller.
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { exportJWK, type JWK } from 'jose';
import { cacheVerifiedTokens } from '../../src/identity/cache-verified-tokens.js';
import { isDns1123Label, isDns1123Subdomain } from '../../src/identity/kubernetes-names.js';
import {
  createTokenVerifier,
  LEGACY_KUBERNETES_ISSUER,
  type TokenVerifier,
} from '../../src/identity/token-verifier.js';
import { checkAsync, guardedAsync, outcomeOfAsync, runsFor } from './fuzz-settings.js';
import { applyTextEdit, type TextEdit } from './text-edits.js';

const NOW = new Date('2031-03-04T05:06:07.000Z');
const NOW_S = NOW.getTime() / 1000;
const ISSUER = 'https://issuer.example';
const b64u = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

interface SigningKey {
  alg: string;
  kid: string | undefined;
  key: KeyObject;
  sign(input: Buffer): Buffer;
}

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const legacy = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;

const KEYS: SigningKey[] = [
  { alg: 'ES256', kid: 'a', key: ec, sign: (i) => sign('sha256', i, { key: ec, dsaEncoding: 'ieee-p1363' }) },
  { alg: 'RS256', kid: 'r', key: rsa, sign: (i) => sign('sha256', i, rsa) },
  {
    alg: 'PS256',
    kid: 'r',
    key: rsa,
    sign: (i) => sign('sha256', i, { key: rsa, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  },
  { alg: 'EdDSA', kid: 'e', key: ed, sign: (i) => sign(null, i, ed) },
  {
    alg: 'ES256',
    kid: undefined,
    key: legacy,
    sign: (i) => sign('sha256', i, { key: legacy, dsaEncoding: 'ieee-p1363' }),
  },
  // Not in any JWKS: its tokens must never verify.
  {
    alg: 'ES256',
    kid: 'a',
    key: stranger,
    sign: (i) => sign('sha256', i, { key: stranger, dsaEncoding: 'ieee-p1363' }),
  },
];

async function publicJwk(key: KeyObject, kid?: string): Promise<JWK> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = await exportJWK(key);
  return kid === undefined ? pub : { ...pub, kid };
}

const verifier = createTokenVerifier([
  {
    issuer: ISSUER,
    audiences: ['istio-ca'],
    jwks: { keys: [await publicJwk(ec, 'a'), await publicJwk(rsa, 'r'), await publicJwk(ed, 'e')] },
  },
  { issuer: LEGACY_KUBERNETES_ISSUER, audiences: ['istio-ca'], jwks: { keys: [await publicJwk(legacy)] } },
]);
const cached = cacheVerifiedTokens(verifier, { maxEntries: 16 });

function signToken(header: string, payload: string, key: SigningKey): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${key.sign(Buffer.from(input)).toString('base64url')}`;
}

/** The caller, or a MeshcaError of kind 'unauthenticated'; anything else fails the property. */
async function verified(v: TokenVerifier, token: string) {
  const result = await outcomeOfAsync(() => v.verify(token, NOW), ['unauthenticated'], /^IDENTITY_TOKEN_/);
  if (result.ok) {
    const { namespace, serviceAccount, subject } = result.value;
    assert.ok(isDns1123Label(namespace) && isDns1123Subdomain(serviceAccount));
    assert.equal(subject, `system:serviceaccount:${namespace}:${serviceAccount}`);
  }
  return result;
}

/** JSON text an attacker controls: any value, and the shapes that hurt (deep nesting, odd numbers). */
const hostileJson: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 4 },
  fc.integer({ min: 1, max: 12_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
  fc.integer({ min: 1, max: 5_000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
  fc.constantFrom(
    '1e400',
    '-1e400',
    '-0',
    '0.5',
    '9007199254740993',
    'null',
    'true',
    '""',
    '"\\u0000"',
    '"\\ud800"',
    '{}',
    '[]',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)),
);

const typed = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: arb.map((v) => JSON.stringify(v)), weight: 3 }, hostileJson);
const seconds = fc.oneof(
  fc.integer({ min: NOW_S - 7200, max: NOW_S + 7200 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(NOW_S + 3600, NOW_S - 3600, 0, -1, Number.MAX_SAFE_INTEGER),
);
const name = fc.oneof(fc.constantFrom('shop', 'cart', 'default', 'a.b'), fc.string({ maxLength: 12 }));
const subject = fc.oneof(
  fc.tuple(name, name).map(([ns, sa]) => `system:serviceaccount:${ns}:${sa}`),
  fc.constant('system:serviceaccount:shop:cart'),
  fc.string({ maxLength: 30 }),
);

const VALID_PAYLOAD = JSON.stringify({
  iss: ISSUER,
  aud: ['istio-ca'],
  sub: 'system:serviceaccount:shop:cart',
  iat: NOW_S,
  nbf: NOW_S,
  exp: NOW_S + 3600,
  'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart' } },
});

const CLAIM_VALUES: Record<string, fc.Arbitrary<string>> = {
  iss: typed(fc.constantFrom(ISSUER, LEGACY_KUBERNETES_ISSUER, 'https://other.example')),
  sub: typed(subject),
  aud: typed(
    fc.oneof(fc.constant(['istio-ca']), fc.constant('istio-ca'), fc.array(fc.string({ maxLength: 10 }))),
  ),
  exp: typed(seconds),
  nbf: typed(seconds),
  iat: typed(seconds),
  'kubernetes.io': typed(
    fc.record(
      {
        namespace: fc.oneof(name, fc.integer()),
        serviceaccount: fc.oneof(fc.record({ name: fc.oneof(name, fc.boolean()) }), fc.string()),
      },
      { requiredKeys: [] },
    ),
  ),
  'kubernetes.io/serviceaccount/namespace': typed(name),
  'kubernetes.io/serviceaccount/service-account.name': typed(name),
};

/** Changes to a JSON object's members: set one (typed or hostile), drop one (undefined), or add any. */
function memberEdits(values: Record<string, fc.Arbitrary<string>>) {
  return fc.array(
    fc.oneof(
      ...Object.entries(values).map(([k, v]) => fc.tuple(fc.constant(k), fc.option(v, { nil: undefined }))),
      fc.tuple(fc.string({ maxLength: 8 }), hostileJson),
    ),
    { maxLength: 3 },
  );
}

function objectText(base: Record<string, unknown>, edits: [string, string | undefined][]): string {
  const members = new Map(Object.entries(base).map(([k, v]) => [k, JSON.stringify(v)]));
  for (const [k, v] of edits) {
    if (v === undefined) members.delete(k);
    else members.set(k, v);
  }
  return `{${[...members].map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** A good payload for `key`'s issuer with up to three claims changed, dropped or added. */
const payloadFor = (key: SigningKey) =>
  fc.oneof(
    {
      arbitrary: memberEdits(CLAIM_VALUES).map((edits) =>
        objectText(
          { ...JSON.parse(VALID_PAYLOAD), iss: key.key === legacy ? LEGACY_KUBERNETES_ISSUER : ISSUER },
          edits,
        ),
      ),
      weight: 6,
    },
    hostileJson,
  );

/** `key`'s own header with up to three members changed, dropped or added. */
const headerFor = (key: SigningKey) =>
  memberEdits({
    alg: typed(fc.constantFrom(key.alg, 'ES256', 'RS256', 'none', 'HS256', 'Ed25519', 'ES384')),
    kid: typed(fc.constantFrom(key.kid ?? 'a', 'a', 'r', 'e', 'zz')),
    typ: typed(fc.constantFrom('JWT', 'at+jwt')),
    crit: typed(fc.oneof(fc.constant(['b64']), fc.array(fc.string({ maxLength: 5 })))),
    b64: typed(fc.boolean()),
  }).map((edits) =>
    objectText({ alg: key.alg, ...(key.kid === undefined ? {} : { kid: key.kid }), typ: 'JWT' }, edits),
  );

type TokenEdit = TextEdit | { op: 'segments'; order: number[] };

const tokenChar = fc.oneof(
  fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
  fc.constantFrom('.', '=', '+', '/', ' ', '\u0000', 'é'),
);
const tokenEdit: fc.Arbitrary<TokenEdit> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), char: tokenChar }), weight: 3 },
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom('.', '..', 'AA', `.${b64u('{}')}`), fc.string({ maxLength: 4 })),
  }),
  fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    op: fc.constant('segments' as const),
    order: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 }),
  }),
);

function applyTokenEdit(token: string, e: TokenEdit): string {
  if (e.op !== 'segments') return applyTextEdit(token, e);
  const parts = token.split('.');
  return e.order.map((i) => parts[i] ?? '').join('.');
}

const VERIFIERS: Record<string, TokenVerifier> = { 'local JWKS': verifier, cached };
/** By name, so a counterexample prints a name rather than the verifier's source. */
const verifierUnderTest = fc.constantFrom(...Object.keys(VERIFIERS));
const key = fc.constantFrom(...KEYS);

describe('token verification, fuzzed', () => {
  it('random strings are refused as unauthenticated', async () => {
    const jwtShaped = fc
      .array(fc.string({ unit: fc.constantFrom(...'AZaz09-_=+/. '.split('')), maxLength: 40 }), {
        minLength: 1,
        maxLength: 6,
      })
      .map((parts) => parts.join('.'));
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), jwtShaped),
        verifierUnderTest,
        guardedAsync(async (token: string, which: string) => {
          const result = await verified(VERIFIERS[which]!, token);
          assert.ok(!result.ok, 'a random string verified');
        }),
      ),
      runsFor(300),
    );
  });

  it('hostile headers and payloads with a random signature are refused as unauthenticated', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(hostileJson, headerFor(KEYS[0]!)),
        payloadFor(KEYS[0]!),
        fc.uint8Array({ maxLength: 80 }),
        verifierUnderTest,
        guardedAsync(async (header: string, payload: string, signature: Uint8Array, which: string) => {
          const token = `${b64u(header)}.${b64u(payload)}.${Buffer.from(signature).toString('base64url')}`;
          const result = await verified(VERIFIERS[which]!, token);
          assert.ok(!result.ok, 'a token with a random signature verified');
        }),
      ),
      runsFor(300),
    );
  });

  it('hostile claims signed by a trusted key name a valid caller or are refused as unauthenticated', async () => {
    await checkAsync(
      fc.asyncProperty(
        key.chain((k) => fc.tuple(fc.constant(k), headerFor(k), payloadFor(k))),
        verifierUnderTest,
        guardedAsync(async ([k, header, payload]: [SigningKey, string, string], which: string) => {
          const result = await verified(VERIFIERS[which]!, signToken(header, payload, k));
          if (k.key === stranger) assert.ok(!result.ok, "a stranger's token verified");
        }),
      ),
      runsFor(400),
    );
  });

  it('edited valid tokens are refused as unauthenticated, or still name the same caller', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.constantFrom(...KEYS.slice(0, 4)),
        fc.array(tokenEdit, { minLength: 1, maxLength: 3 }),
        verifierUnderTest,
        guardedAsync(async (k: SigningKey, edits: TokenEdit[], which: string) => {
          const header = JSON.stringify({ alg: k.alg, kid: k.kid, typ: 'JWT' });
          const token = edits.reduce(applyTokenEdit, signToken(header, VALID_PAYLOAD, k));
          const result = await verified(VERIFIERS[which]!, token);
          if (result.ok) {
            assert.equal(result.value.namespace, 'shop');
            assert.equal(result.value.serviceAccount, 'cart');
          }
        }),
      ),
      runsFor(300),
    );
  });

  it('regression: deeply nested "alg", "iss" or "sub" is refused as unauthenticated, not a stack overflow', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const cases = [
      [`{"alg":${deep}}`, VALID_PAYLOAD, 'IDENTITY_TOKEN_ALG_NOT_ALLOWED'],
      ['{"alg":"ES256","kid":"a"}', `{"iss":${deep}}`, 'IDENTITY_TOKEN_UNKNOWN_ISSUER'],
      [
        '{"alg":"ES256","kid":"a"}',
        VALID_PAYLOAD.replace('"system:serviceaccount:shop:cart"', deep),
        'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT',
      ],
    ] as const;
    for (const [header, payload, code] of cases) {
      const result = await verified(verifier, signToken(header, payload, KEYS[0]!));
      assert.ok(!result.ok);
      assert.equal(result.error.code, code, result.error.message);
      assert.ok(result.error.message.length < 1000, 'the quoted value is cut short');
    }
  });

  it('regression: an "nbf" or "exp" beyond the range of a Date is named, not a RangeError', async () => {
    const at = `checked at ${NOW.toISOString()}, allowing 30 s of clock skew`;
    const cases = [
      [
        { nbf: Number.MAX_SAFE_INTEGER },
        'IDENTITY_TOKEN_NOT_YET_VALID',
        `the token is not valid before "9007199254740991" (${at}); check the clocks of the issuer and of this CA`,
      ],
      [
        { exp: -1e300 },
        'IDENTITY_TOKEN_EXPIRED',
        `the token expired at "-1e+300" (${at}); present a fresh token`,
      ],
    ] as const;
    for (const [claims, code, message] of cases) {
      const payload = JSON.stringify({ ...JSON.parse(VALID_PAYLOAD), ...claims });
      const result = await verified(verifier, signToken('{"alg":"ES256","kid":"a"}', payload, KEYS[0]!));
      assert.ok(!result.ok);
      assert.equal(result.error.code, code);
      assert.equal(result.error.message, message);
    }
  });
});
