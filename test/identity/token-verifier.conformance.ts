// The conformance suite every TokenVerifier backend runs: the same tokens, good and bad, must be
// accepted or refused with the same codes, whatever holds the issuer's keys.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPair, type KeyObject, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type JWTHeaderParameters, type JWTPayload, SignJWT } from 'jose';
import { isMeshcaError, type MeshcaError } from '../../src/errors.js';
import type { TokenVerifier } from '../../src/identity/token-verifier.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface ConformanceSubject {
  verifier: TokenVerifier;
  /** An issuer the verifier trusts, and an audience it accepts for it. */
  issuer: string;
  audience: string;
  /** That issuer's private signing key, its JWS algorithm and key id, for hand-made tokens. */
  signingKey: KeyObject;
  alg: string;
  kid: string | undefined;
  /** Mints a token the way the backend's real issuer does. */
  mintServiceAccountToken(opts: {
    namespace: string;
    serviceAccount: string;
    now: Date;
    ttlSeconds: number;
  }): Promise<string>;
  cleanup?(): Promise<void>;
}

// A fixed clock far from the machine's, so nothing here depends on when the test runs.
const NOW = new Date('2031-03-04T05:06:07.000Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const HOUR = 3600;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const isoAt = (seconds: number) => new Date(seconds * 1000).toISOString();

/** A key of the same kind as `key` that the verifier has never seen. */
async function untrustedKeyLike(key: KeyObject): Promise<KeyObject> {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      return (await generateKeyPairAsync('ec', { namedCurve: details.namedCurve! })).privateKey;
    case 'rsa':
    case 'rsa-pss':
      return (await generateKeyPairAsync('rsa', { modulusLength: details.modulusLength ?? 2048 })).privateKey;
    case 'ed25519':
      return (await generateKeyPairAsync('ed25519')).privateKey;
    default:
      throw new TypeError(`conformance: no untrusted-key recipe for ${key.asymmetricKeyType}`);
  }
}

/** Runs the whole suite against the backend `setup` builds. */
export function runTokenVerifierConformance(name: string, setup: () => Promise<ConformanceSubject>): void {
  describe(`TokenVerifier conformance: ${name}`, () => {
    let s: ConformanceSubject;
    before(async () => {
      s = await setup();
    });
    after(async () => {
      await s?.cleanup?.();
    });

    /** Kubernetes bound-token claims for ns/sa at NOW; `overrides` set claims, `undefined` removes one. */
    function claims(overrides: Record<string, unknown> = {}, ns = 'shop', sa = 'cart'): JWTPayload {
      const base: Record<string, unknown> = {
        iss: s.issuer,
        aud: [s.audience],
        sub: `system:serviceaccount:${ns}:${sa}`,
        'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: randomUUID() } },
        iat: NOW_S,
        nbf: NOW_S,
        exp: NOW_S + HOUR,
        jti: randomUUID(),
      };
      for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete base[k];
        else base[k] = v;
      }
      return base;
    }

    function sign(
      payload: JWTPayload,
      opts: { key?: KeyObject | Uint8Array; header?: Partial<JWTHeaderParameters> } = {},
    ): Promise<string> {
      const header = { alg: s.alg, ...(s.kid === undefined ? {} : { kid: s.kid }), ...opts.header };
      return new SignJWT(payload)
        .setProtectedHeader(header as JWTHeaderParameters)
        .sign(opts.key ?? s.signingKey);
    }

    /** Expects a refusal with `code`, whose message names every fact in `mentions` and never leaks the token. */
    async function refused(
      token: string,
      code: string,
      mentions: string[] = [],
      now = NOW,
    ): Promise<MeshcaError> {
      const err = await s.verifier.verify(token, now).then(
        (caller) => assert.fail(`expected ${code}, but the token was accepted as ${JSON.stringify(caller)}`),
        (e: unknown) => e,
      );
      assert.ok(isMeshcaError(err), `expected a MeshcaError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.equal(err.kind, 'unauthenticated');
      for (const fact of mentions)
        assert.ok(err.message.includes(fact), `message should mention ${fact}: ${err.message}`);
      if (typeof token !== 'string') return err;
      if (token.length > 0) assert.ok(!err.message.includes(token), 'the message must not contain the token');
      const signature = token.split('.')[2];
      if (signature && signature.length > 8) {
        assert.ok(!err.message.includes(signature), 'the message must not contain the signature');
      }
      return err;
    }

    describe('accepts', () => {
      it("a token minted by the backend's issuer, as the service account it names", async () => {
        const token = await s.mintServiceAccountToken({
          namespace: 'shop',
          serviceAccount: 'cart',
          now: NOW,
          ttlSeconds: HOUR,
        });
        // The pod of a pod-bound token is carried for the log only; it is checked separately.
        const { pod: _pod, ...caller } = await s.verifier.verify(token, NOW);
        assert.deepEqual(caller, {
          namespace: 'shop',
          serviceAccount: 'cart',
          via: 'token',
          issuer: s.issuer,
          subject: 'system:serviceaccount:shop:cart',
        });
      });

      it('the current time when no clock is given', async () => {
        const now = new Date();
        const token = await s.mintServiceAccountToken({
          namespace: 'shop',
          serviceAccount: 'cart',
          now,
          ttlSeconds: HOUR,
        });
        assert.equal((await s.verifier.verify(token)).serviceAccount, 'cart');
      });

      it('an audience list that includes an accepted audience among others', async () => {
        const token = await sign(claims({ aud: ['https://kubernetes.default.svc', s.audience] }));
        assert.equal((await s.verifier.verify(token, NOW)).namespace, 'shop');
      });

      it('a single-string audience', async () => {
        const token = await sign(claims({ aud: s.audience }));
        assert.equal((await s.verifier.verify(token, NOW)).namespace, 'shop');
      });

      it('a service account name with dots (a DNS-1123 subdomain) and no kubernetes.io claim', async () => {
        const token = await sign(claims({ 'kubernetes.io': undefined }, 'build-42', 'ci.runner'));
        const caller = await s.verifier.verify(token, NOW);
        assert.deepEqual([caller.namespace, caller.serviceAccount], ['build-42', 'ci.runner']);
      });

      it('a token a moment before it expires', async () => {
        const token = await sign(claims());
        await s.verifier.verify(token, new Date((NOW_S + HOUR - 1) * 1000));
      });
    });

    describe('refuses', () => {
      it('an expired token, saying when it expired', async () => {
        const minted = new Date(NOW.getTime() - 2 * HOUR * 1000);
        const token = await s.mintServiceAccountToken({
          namespace: 'shop',
          serviceAccount: 'cart',
          now: minted,
          ttlSeconds: HOUR,
        });
        await refused(token, 'IDENTITY_TOKEN_EXPIRED', [isoAt(NOW_S - HOUR)]);
      });

      it('a token that is not valid yet, saying from when', async () => {
        const token = await sign(claims({ nbf: NOW_S + HOUR, iat: NOW_S + HOUR, exp: NOW_S + 2 * HOUR }));
        await refused(token, 'IDENTITY_TOKEN_NOT_YET_VALID', [isoAt(NOW_S + HOUR)]);
      });

      it('a token without an expiry', async () => {
        await refused(await sign(claims({ exp: undefined })), 'IDENTITY_TOKEN_MALFORMED', ['"exp"']);
      });

      it('a token for another audience, naming what it found and what is accepted', async () => {
        const token = await sign(claims({ aud: ['https://kubernetes.default.svc', 'vault'] }));
        await refused(token, 'IDENTITY_TOKEN_AUDIENCE', [
          'https://kubernetes.default.svc',
          'vault',
          s.audience,
        ]);
      });

      it('a token without an audience', async () => {
        await refused(await sign(claims({ aud: undefined })), 'IDENTITY_TOKEN_AUDIENCE', [
          '"aud"',
          s.audience,
        ]);
      });

      it('a token from an unknown issuer, naming it and the trusted ones', async () => {
        const token = await sign(claims({ iss: 'https://attacker.example' }));
        await refused(token, 'IDENTITY_TOKEN_UNKNOWN_ISSUER', ['https://attacker.example', s.issuer]);
      });

      it('a token that names no issuer', async () => {
        await refused(await sign(claims({ iss: undefined })), 'IDENTITY_TOKEN_UNKNOWN_ISSUER', [
          '"iss"',
          s.issuer,
        ]);
      });

      it("a token signed by another key under the trusted key's kid", async () => {
        const token = await sign(claims(), { key: await untrustedKeyLike(s.signingKey) });
        await refused(token, 'IDENTITY_TOKEN_BAD_SIGNATURE', [s.issuer]);
      });

      it('a token signed by another key with a kid the issuer does not have', async () => {
        const key = await untrustedKeyLike(s.signingKey);
        const token = await sign(claims(), { key, header: { kid: 'rogue-key' } });
        await refused(token, 'IDENTITY_TOKEN_BAD_SIGNATURE', [s.issuer, 'rogue-key']);
      });

      it('a genuine token whose payload was altered after signing', async () => {
        const [header, , signature] = (await sign(claims())).split('.');
        const forged = `${header}.${b64url(claims({}, 'kube-system', 'admin'))}.${signature}`;
        await refused(forged, 'IDENTITY_TOKEN_BAD_SIGNATURE');
      });

      it('an unsigned token ("alg": "none"), however it is spelled', async () => {
        for (const alg of ['none', 'None', 'NONE']) {
          const token = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims())}.`;
          await refused(token, 'IDENTITY_TOKEN_ALG_NOT_ALLOWED', ['unsigned']);
        }
      });

      it("an HS256 token MAC'ed with the issuer's public key as the secret", async () => {
        const publicKey = createPublicKey(s.signingKey);
        const secrets = [
          Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }) as string),
          publicKey.export({ format: 'der', type: 'spki' }),
        ];
        for (const secret of secrets) {
          const token = await sign(claims(), { key: new Uint8Array(secret), header: { alg: 'HS256' } });
          await refused(token, 'IDENTITY_TOKEN_ALG_NOT_ALLOWED', ['"HS256"']);
        }
      });

      it('a token with no "alg" or an algorithm meshca does not know', async () => {
        await refused(`${b64url({ typ: 'JWT' })}.${b64url(claims())}.c2ln`, 'IDENTITY_TOKEN_ALG_NOT_ALLOWED');
        await refused(
          `${b64url({ alg: 'XS999' })}.${b64url(claims())}.c2ln`,
          'IDENTITY_TOKEN_ALG_NOT_ALLOWED',
          ['XS999'],
        );
      });

      it('a subject that is not a Kubernetes service account', async () => {
        const subjects = [
          'alice@example.com',
          'system:serviceaccount:shop',
          'system:serviceaccount:shop:cart:extra',
          'system:serviceaccount::cart',
          'system:serviceaccount:Shop:cart',
          'system:serviceaccount:shop:cart/../admin',
          'system:serviceaccount:shop:',
          'system:node:worker-1',
          'System:ServiceAccount:shop:cart',
        ];
        for (const sub of subjects) {
          await refused(await sign(claims({ sub })), 'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT', [
            JSON.stringify(sub),
          ]);
        }
        await refused(await sign(claims({ sub: 42 })), 'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT');
        await refused(await sign(claims({ sub: undefined })), 'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT', [
          'missing',
        ]);
      });

      it('claims that contradict the subject', async () => {
        const cases: Array<[Record<string, unknown>, string]> = [
          [
            { 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'cart' } } },
            'kubernetes.io.namespace',
          ],
          [
            { 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'admin' } } },
            'kubernetes.io.serviceaccount.name',
          ],
          [{ 'kubernetes.io': 'shop' }, 'kubernetes.io'],
          [
            { 'kubernetes.io/serviceaccount/namespace': 'kube-system' },
            'kubernetes.io/serviceaccount/namespace',
          ],
          [
            { 'kubernetes.io/serviceaccount/service-account.name': 'admin' },
            'kubernetes.io/serviceaccount/service-account.name',
          ],
        ];
        for (const [overrides, claim] of cases) {
          await refused(await sign(claims(overrides)), 'IDENTITY_TOKEN_CLAIMS_MISMATCH', [claim]);
        }
      });

      it('garbage in place of a token', async () => {
        const genuine = await sign(claims());
        const [h, p, sig] = genuine.split('.');
        const garbage = [
          '',
          'garbage',
          'a.b',
          'a.b.c',
          '...',
          '..sig',
          `${h}.${p}`,
          `${h}.${p}.${sig}.`,
          `${h}.${p}.${sig}\n`,
          `Bearer ${genuine}`,
          `${h}.${b64url(claims())}.${sig}==`,
          `${h}.${Buffer.from('not json').toString('base64url')}.${sig}`,
          `${h}.${b64url(['an', 'array'])}.${sig}`,
          `${b64url('a string header')}.${p}.${sig}`,
          'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d',
          `${h}.${'A'.repeat(100_000)}.${sig}`,
          createHash('sha256').update('x').digest('base64url'),
        ];
        for (const token of garbage) await refused(token, 'IDENTITY_TOKEN_MALFORMED');
        await refused(undefined as unknown as string, 'IDENTITY_TOKEN_MALFORMED');
      });
    });
  });
}
