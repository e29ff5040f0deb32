// The embedded token issuer: one key per data directory however many processes start at once,
// a JWKS always derived from that key, and Kubernetes-shaped tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  DEFAULT_TOKEN_ISSUER,
  ISSUER_JWKS_FILE,
  ISSUER_KEY_FILE,
  loadOrCreateTokenIssuer,
} from '../../src/identity/token-issuer.js';
import { encodePrivateKeyPem } from '../../src/pki/keys.js';
import { meshcaErrorWith } from '../support/assert-error.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOW = new Date('2031-03-04T05:06:07.890Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);

let base: string;
let n = 0;
const freshDir = () => join(base, `issuer-${n++}`);

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'meshca-issuer-'));
});
after(() => rm(base, { recursive: true, force: true }));

const assertCode = meshcaErrorWith;

describe('loadOrCreateTokenIssuer', () => {
  it('creates a private EC P-256 key (PKCS#8, mode 0600) and its public JWKS on first use', async () => {
    const dir = freshDir();
    const issuer = await loadOrCreateTokenIssuer(dir);
    assert.equal(issuer.issuer, DEFAULT_TOKEN_ISSUER);
    assert.equal(DEFAULT_TOKEN_ISSUER, 'https://meshca.local/token-issuer');

    const keyPem = await readFile(join(dir, ISSUER_KEY_FILE), 'utf8');
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal((await stat(join(dir, ISSUER_KEY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, ISSUER_JWKS_FILE))).mode & 0o777, 0o644);
    assert.deepEqual((await readdir(dir)).sort(), [ISSUER_JWKS_FILE, ISSUER_KEY_FILE]);

    const jwks = issuer.jwks();
    assert.deepEqual(JSON.parse(await readFile(join(dir, ISSUER_JWKS_FILE), 'utf8')), jwks);
    assert.equal(jwks.keys.length, 1);
    const [jwk] = jwks.keys;
    assert.deepEqual(Object.keys(jwk!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.deepEqual([jwk!.kty, jwk!.crv, jwk!.alg, jwk!.use], ['EC', 'P-256', 'ES256', 'sig']);
    // RFC 7638, computed by hand: SHA-256 over the required members in lexicographic order.
    const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk!.x}","y":"${jwk!.y}"}`;
    assert.equal(jwk!.kid, createHash('sha256').update(canonical).digest('base64url'));
  });

  it('hands out copies of its JWKS, so a caller cannot alter the issuer', async () => {
    const issuer = await loadOrCreateTokenIssuer(freshDir());
    const jwks = issuer.jwks();
    jwks.keys[0]!.kid = 'tampered';
    assert.notEqual(issuer.jwks().keys[0]!.kid, 'tampered');
  });

  it('reuses the same key on every later load, unchanged', async () => {
    const dir = freshDir();
    const first = await loadOrCreateTokenIssuer(dir);
    const keyBefore = await readFile(join(dir, ISSUER_KEY_FILE));
    const jwksBefore = await readFile(join(dir, ISSUER_JWKS_FILE));
    const token = await first.mint({ namespace: 'shop', serviceAccount: 'cart', now: NOW });

    const second = await loadOrCreateTokenIssuer(dir);
    assert.deepEqual(await readFile(join(dir, ISSUER_KEY_FILE)), keyBefore);
    assert.deepEqual(await readFile(join(dir, ISSUER_JWKS_FILE)), jwksBefore);
    assert.deepEqual(second.jwks(), first.jwks());
    assert.equal((await stat(join(dir, ISSUER_KEY_FILE))).mode & 0o777, 0o600);
    await jwtVerify(token, createLocalJWKSet(second.jwks()), { currentDate: NOW });
  });

  it('re-derives jwks.json from the key rather than trusting it', async () => {
    const dir = freshDir();
    const issuer = await loadOrCreateTokenIssuer(dir);
    const genuine = await readFile(join(dir, ISSUER_JWKS_FILE), 'utf8');

    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const planted = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: issuer.jwks().keys[0]!.kid }] };
    await writeFile(join(dir, ISSUER_JWKS_FILE), JSON.stringify(planted));
    assert.deepEqual((await loadOrCreateTokenIssuer(dir)).jwks(), issuer.jwks());
    assert.equal(await readFile(join(dir, ISSUER_JWKS_FILE), 'utf8'), genuine);

    await rm(join(dir, ISSUER_JWKS_FILE));
    await loadOrCreateTokenIssuer(dir);
    assert.equal(await readFile(join(dir, ISSUER_JWKS_FILE), 'utf8'), genuine);
  });

  it('ends with one key when two processes create it at once', async () => {
    // Each child loads the module, says "ready", and waits for "go" so both race on the empty dir.
    const child = `
      const { loadOrCreateTokenIssuer } = await import(process.env.ISSUER_MODULE);
      process.stdout.write('ready\\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      const issuer = await loadOrCreateTokenIssuer(process.env.ISSUER_DIR);
      process.stdout.write(JSON.stringify(issuer.jwks()) + '\\n');
      process.exit(0);
    `;
    const module = pathToFileURL(join(ROOT, 'src/identity/token-issuer.ts')).href;
    for (let round = 0; round < 3; round++) {
      const dir = freshDir();
      const children = [0, 1].map(() => {
        const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], {
          cwd: ROOT,
          env: { ...process.env, ISSUER_MODULE: module, ISSUER_DIR: dir },
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        let out = '';
        const ready = new Promise<void>((resolve) => {
          proc.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            if (out.startsWith('ready\n')) resolve();
          });
        });
        const done = new Promise<string>((resolve, reject) => {
          proc.on('error', reject);
          proc.on('close', (code) =>
            code === 0
              ? resolve(out.split('\n')[1]!)
              : reject(new Error(`child exited with ${code}: ${out}`)),
          );
        });
        return { proc, ready, done };
      });
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.proc.stdin.end('go\n');
      const [a, b] = await Promise.all(children.map((c) => c.done));
      assert.ok(a && b);
      assert.deepEqual(JSON.parse(a), JSON.parse(b));
      assert.deepEqual((await loadOrCreateTokenIssuer(dir)).jwks(), JSON.parse(a));
      assert.deepEqual((await readdir(dir)).sort(), [ISSUER_JWKS_FILE, ISSUER_KEY_FILE]);
    }
  });

  it('uses the issuer name it is given', async () => {
    const issuer = await loadOrCreateTokenIssuer(freshDir(), { issuer: 'https://meshca.example.org' });
    const token = await issuer.mint({ namespace: 'shop', serviceAccount: 'cart', now: NOW });
    const { payload } = await jwtVerify(token, createLocalJWKSet(issuer.jwks()), { currentDate: NOW });
    assert.equal(payload.iss, 'https://meshca.example.org');
  });

  it('refuses an unusable issuer name', async () => {
    await assert.rejects(
      loadOrCreateTokenIssuer(freshDir(), { issuer: 'my issuer' }),
      assertCode(
        'IDENTITY_ISSUER_NAME_INVALID',
        'config',
        'token issuer name "my issuer" is not usable; give a non-empty name without spaces, e.g. "https://meshca.local/token-issuer"',
      ),
    );
  });

  it('refuses a damaged key file, saying what to do', async () => {
    const dir = freshDir();
    await loadOrCreateTokenIssuer(dir);
    await writeFile(join(dir, ISSUER_KEY_FILE), 'not a key\n');
    await assert.rejects(loadOrCreateTokenIssuer(dir), (err) => {
      assertCode('IDENTITY_ISSUER_KEY_INVALID', 'config')(err);
      assert.match((err as Error).message, /delete it to have a new key made/);
      return true;
    });
  });

  it('refuses a key file holding a key of the wrong kind', async () => {
    const dir = freshDir();
    await loadOrCreateTokenIssuer(dir);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(dir, ISSUER_KEY_FILE), encodePrivateKeyPem(privateKey));
    await assert.rejects(
      loadOrCreateTokenIssuer(dir),
      assertCode(
        'IDENTITY_ISSUER_KEY_INVALID',
        'config',
        `${join(dir, ISSUER_KEY_FILE)}: the token issuer signs ES256 and needs an EC P-256 key, but this is an RSA 2048 key; fix it, or delete it to have a new key made (tokens signed by the old key then stop verifying)`,
      ),
    );
  });

  it('reports a data directory it cannot write as a configuration problem', async () => {
    const file = join(base, `plain-file-${n++}`);
    await writeFile(file, '');
    await assert.rejects(loadOrCreateTokenIssuer(join(file, 'issuer')), (err) => {
      assertCode('IDENTITY_ISSUER_IO', 'config')(err);
      assert.match((err as Error).message, /ENOTDIR/);
      return true;
    });
  });
});

describe('TokenIssuer.mint', () => {
  it('makes a Kubernetes-shaped service-account token', async () => {
    const issuer = await loadOrCreateTokenIssuer(freshDir());
    const token = await issuer.mint({ namespace: 'shop', serviceAccount: 'cart', now: NOW });
    assert.deepEqual(decodeProtectedHeader(token), {
      alg: 'ES256',
      kid: issuer.jwks().keys[0]!.kid,
      typ: 'JWT',
    });

    const { payload } = await jwtVerify(token, createLocalJWKSet(issuer.jwks()), {
      currentDate: NOW,
      algorithms: ['ES256'],
    });
    const k8s = payload['kubernetes.io'] as {
      namespace: string;
      serviceaccount: { name: string; uid: string };
    };
    assert.match(
      k8s.serviceaccount.uid,
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.match(payload.jti!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(payload, {
      iss: DEFAULT_TOKEN_ISSUER,
      aud: ['istio-ca'],
      sub: 'system:serviceaccount:shop:cart',
      'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart', uid: k8s.serviceaccount.uid } },
      iat: NOW_S,
      nbf: NOW_S,
      exp: NOW_S + 3600,
      jti: payload.jti,
    });
  });

  it('takes a lifetime and audiences, and keeps a service account uid stable', async () => {
    const issuer = await loadOrCreateTokenIssuer(freshDir());
    const decode = async (token: string) =>
      (await jwtVerify(token, createLocalJWKSet(issuer.jwks()), { currentDate: NOW })).payload;
    const a = await decode(
      await issuer.mint({
        namespace: 'shop',
        serviceAccount: 'cart',
        now: NOW,
        ttlSeconds: 600,
        audience: 'vault',
      }),
    );
    const b = await decode(
      await issuer.mint({
        namespace: 'shop',
        serviceAccount: 'cart',
        now: NOW,
        audience: ['istio-ca', 'vault'],
      }),
    );
    const c = await decode(await issuer.mint({ namespace: 'shop', serviceAccount: 'checkout', now: NOW }));
    assert.equal(a.exp, NOW_S + 600);
    assert.deepEqual(a.aud, ['vault']);
    assert.deepEqual(b.aud, ['istio-ca', 'vault']);
    const uid = (p: typeof a) =>
      (p['kubernetes.io'] as { serviceaccount: { uid: string } }).serviceaccount.uid;
    assert.equal(uid(a), uid(b));
    assert.notEqual(uid(a), uid(c));
    assert.notEqual(a.jti, b.jti);
  });

  it('refuses names Kubernetes would refuse', async () => {
    const issuer = await loadOrCreateTokenIssuer(freshDir());
    await assert.rejects(
      issuer.mint({ namespace: 'Shop', serviceAccount: 'cart/../admin', now: NOW }),
      assertCode(
        'IDENTITY_SERVICE_ACCOUNT_INVALID',
        'invalid-input',
        'namespace "Shop" is not a DNS-1123 label (at most 63 characters: lower-case letters, digits and "-", starting and ending with a letter or digit); service account "cart/../admin" is not a DNS-1123 subdomain (at most 253 characters: dot-separated labels of lower-case letters, digits and "-"); use a valid Kubernetes name',
      ),
    );
    for (const [namespace, serviceAccount] of [
      ['', 'cart'],
      ['a.b', 'cart'],
      ['-shop', 'cart'],
      ['x'.repeat(64), 'cart'],
      ['shop', ''],
      ['shop', 'cart.'],
      ['shop', 'a:b'],
      ['shop', 'x'.repeat(254)],
    ]) {
      await assert.rejects(
        issuer.mint({ namespace: namespace!, serviceAccount: serviceAccount!, now: NOW }),
        assertCode('IDENTITY_SERVICE_ACCOUNT_INVALID', 'invalid-input'),
      );
    }
    await issuer.mint({ namespace: 'x'.repeat(63), serviceAccount: `${'a'.repeat(63)}.b-c.d`, now: NOW });
  });

  it('refuses a lifetime or audience it cannot use', async () => {
    const issuer = await loadOrCreateTokenIssuer(freshDir());
    for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        issuer.mint({ namespace: 'shop', serviceAccount: 'cart', ttlSeconds }),
        assertCode('IDENTITY_TOKEN_TTL_INVALID', 'invalid-input'),
      );
    }
    for (const audience of [[], '', ['istio-ca', '']]) {
      await assert.rejects(
        issuer.mint({ namespace: 'shop', serviceAccount: 'cart', audience }),
        assertCode('IDENTITY_TOKEN_AUDIENCE_INVALID', 'invalid-input'),
      );
    }
  });
});
