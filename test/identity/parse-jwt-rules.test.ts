// JWT_RULE parsing: Istio's rule shape, keys inline or from a file, every problem in one error.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { parseJwtRules } from '../../src/identity/parse-jwt-rules.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
const RSA_JWK = {
  kty: 'RSA',
  kid: 'k1',
  alg: 'RS256',
  use: 'sig',
  ...pick(rsa.publicKey.export({ format: 'jwk' })),
};
const EC_JWK = { ...ec.publicKey.export({ format: 'jwk' }), kid: 'k2' };
const JWKS = { keys: [RSA_JWK, EC_JWK] };

function pick(jwk: { n?: string; e?: string }) {
  return { n: jwk.n, e: jwk.e };
}

/** A readFile that serves `files` and fails like fs does for anything else. */
function files(contents: Record<string, string>) {
  return (path: string) => {
    const text = contents[path];
    if (text === undefined) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    }
    return text;
  };
}
const noFiles = files({});

/** What this Node's JSON.parse says about `text`, so messages are asserted exactly on any V8. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new TypeError(`${text} is valid JSON`);
}

function rejects(json: string, message: string, readFile = noFiles) {
  assert.throws(
    () => parseJwtRules(json, 'JWT_RULE', readFile),
    (err) => {
      assert.ok(isMeshcaError(err));
      assert.equal(err.code, 'IDENTITY_JWT_RULE_INVALID');
      assert.equal(err.kind, 'config');
      assert.equal(err.message, message);
      return true;
    },
  );
}

describe('parseJwtRules', () => {
  it("reads one rule object, defaulting the audience to Istio's", () => {
    const json = JSON.stringify({ issuer: 'https://k8s.example', jwks: JWKS });
    assert.deepEqual(parseJwtRules(json, 'JWT_RULE', noFiles), [
      { issuer: 'https://k8s.example', audiences: ['istio-ca'], jwks: JWKS },
    ]);
  });

  it('reads an array of rules, with keys inline as an object, inline as a string, or from a file', () => {
    const json = JSON.stringify([
      { issuer: 'a', audiences: ['istio-ca', 'x'], jwks: JWKS },
      { issuer: 'b', jwks: JSON.stringify({ keys: [EC_JWK] }) },
      { issuer: 'c', jwks_file: '/etc/meshca/c.jwks' },
    ]);
    const rules = parseJwtRules(
      json,
      'JWT_RULE',
      files({ '/etc/meshca/c.jwks': JSON.stringify({ keys: [RSA_JWK] }) }),
    );
    assert.deepEqual(rules, [
      { issuer: 'a', audiences: ['istio-ca', 'x'], jwks: JWKS },
      { issuer: 'b', audiences: ['istio-ca'], jwks: { keys: [EC_JWK] } },
      // The file's path is kept, so its keys can be re-read when it changes.
      { issuer: 'c', audiences: ['istio-ca'], jwks: { keys: [RSA_JWK] }, jwksFile: '/etc/meshca/c.jwks' },
    ]);
  });

  it('reads an empty array as no external issuers', () => {
    assert.deepEqual(parseJwtRules('[]', 'JWT_RULE', noFiles), []);
  });

  it('ignores keys published for encryption next to signing keys', () => {
    const jwks = { keys: [RSA_JWK, { ...EC_JWK, use: 'enc' }] };
    assert.equal(parseJwtRules(JSON.stringify({ issuer: 'a', jwks }), 'JWT_RULE', noFiles).length, 1);
  });

  it('refuses a remote JWKS URL, saying to give a file instead', () => {
    rejects(
      JSON.stringify({ issuer: 'https://k8s.example', jwksUri: 'https://k8s.example/openid/v1/jwks' }),
      'invalid JWT rules (1 problem): JWT_RULE.jwksUri: remote JWKS URLs are not fetched; download the JWKS once (e.g. `kubectl get --raw /openid/v1/jwks > jwks.json` for a Kubernetes API server) and give its path as jwks_file',
    );
  });

  it('reports every problem at once, naming the source and the field', () => {
    rejects(
      JSON.stringify([
        { audiences: 'istio-ca', jwks: JWKS },
        { issuer: 'b', audience: ['x'] },
        { issuer: 'c', jwks: JWKS, jwks_file: '/x' },
        { issuer: 'd', jwks_file: '/missing.json' },
        { issuer: 'e', jwks_file: '/bad.json' },
        'f',
        { issuer: 'g', audiences: [], jwks: '{"keys": [' },
      ]),
      [
        'invalid JWT rules (10 problems): JWT_RULE[0].issuer: expected the exact "iss" of the issuer\'s tokens, it is missing',
        'JWT_RULE[0].audiences: expected an array of non-empty strings, found "istio-ca"',
        'JWT_RULE[1].audience: unknown field; a JWT rule has issuer, audiences, jwks, jwks_file',
        'JWT_RULE[1]: no public keys; give them as jwks (an inline JWKS) or jwks_file (the path of a JWKS file)',
        'JWT_RULE[2]: give either jwks or jwks_file, not both',
        'JWT_RULE[3].jwks_file (/missing.json): cannot read it (ENOENT); check the path and its permissions',
        `JWT_RULE[4].jwks_file (/bad.json): not valid JSON (${jsonError('not json')})`,
        'JWT_RULE[5]: expected a JWT rule object, found a string',
        'JWT_RULE[6].audiences: is empty, so no token would be accepted; list the audiences, or omit it for "istio-ca"',
        `JWT_RULE[6].jwks: not valid JSON (${jsonError('{"keys": [')})`,
      ].join('; '),
      files({ '/bad.json': 'not json' }),
    );
  });

  it('refuses key sets that cannot verify signatures', () => {
    const { d: _d, ...rest } = ec.privateKey.export({ format: 'jwk' });
    const broken = { ...rest, x: 'AAAA' };
    let brokenReason = '';
    try {
      createPublicKey({ key: broken, format: 'jwk' });
    } catch (err) {
      brokenReason = (err as Error).message;
    }
    rejects(
      JSON.stringify([
        { issuer: 'a', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
        { issuer: 'b', jwks: { keys: [ec.privateKey.export({ format: 'jwk' })] } },
        { issuer: 'c', jwks: { keys: [{ ...RSA_JWK, alg: 'HS256' }] } },
        { issuer: 'd', jwks: { keys: [broken] } },
        { issuer: 'e', jwks: { keys: [] } },
        { issuer: 'f', jwks: [RSA_JWK] },
        { issuer: 'g', jwks: { keys: [{ ...RSA_JWK, use: 'enc' }] } },
        { issuer: 'h', jwks: { keys: [{ kty: 'RSA', ...pick(weak.export({ format: 'jwk' })) }] } },
      ]),
      [
        'invalid JWT rules (8 problems): JWT_RULE[0].jwks.keys[0]: is a symmetric ("oct") key; meshca verifies only public-key signatures (HS* tokens are refused), remove it',
        'JWT_RULE[1].jwks.keys[0]: holds private key material ("d"); give only the issuer\'s public keys',
        'JWT_RULE[2].jwks.keys[0]: declares "alg" "HS256", which meshca never accepts; allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519',
        `JWT_RULE[3].jwks.keys[0]: is not a usable public key (${brokenReason})`,
        "JWT_RULE[4].jwks: holds no key usable for verifying signatures; give the issuer's signing keys",
        'JWT_RULE[5].jwks: expected a JSON Web Key Set {"keys": [...]}, found an array',
        "JWT_RULE[6].jwks: holds no key usable for verifying signatures; give the issuer's signing keys",
        'JWT_RULE[7].jwks.keys[0]: is an RSA 1024 key; signatures are verified only with RSA keys of 2048 bits or more',
      ].join('; '),
    );
  });

  it('refuses the same issuer twice', () => {
    rejects(
      JSON.stringify([
        { issuer: 'a', jwks: JWKS },
        { issuer: 'a', jwks: JWKS },
      ]),
      'invalid JWT rules (1 problem): JWT_RULE[1].issuer: "a" is already given by JWT_RULE[0]; merge their keys into one rule',
    );
  });

  it('refuses text that is not JSON, or JSON that is not rules', () => {
    rejects(
      '{issuer: a}',
      `invalid JWT rules (1 problem): JWT_RULE: not valid JSON (${jsonError('{issuer: a}')})`,
    );
    rejects(
      '"a"',
      'invalid JWT rules (1 problem): JWT_RULE: expected a JWT rule object or an array of them, found a string',
    );
    rejects(
      'null',
      'invalid JWT rules (1 problem): JWT_RULE: expected a JWT rule object or an array of them, found null',
    );
  });
});
