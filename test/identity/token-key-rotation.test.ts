// Token keys rotate without a restart: the embedded issuer's key on SIGHUP (server.reload), a
// JWT_RULE jwks_file when the file changes. A token that verified under a removed key (and so sits
// in the verified-token cache) is refused after the reload.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import { CaCallError } from '../../src/agent/ca-client.js';
import { loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { type CaServerFixture, startFixtureServer, workloadCsr } from '../support/ca-server-fixture.js';
import { waitFor } from '../support/wait-for.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';

async function externalKey(): Promise<{ key: KeyObject; kid: string; jwks: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    key: privateKey,
    kid,
    jwks: JSON.stringify({ keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] }),
  };
}

function externalToken(signer: { key: KeyObject; kid: string }): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({
    'kubernetes.io': { namespace: 'foo', serviceaccount: { name: 'sleep', uid: randomUUID() } },
  })
    .setProtectedHeader({ alg: 'ES256', kid: signer.kid })
    .setIssuer(ISSUER)
    .setAudience(['istio-ca'])
    .setSubject('system:serviceaccount:foo:sleep')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .sign(signer.key);
}

/** Resolves 'issued' or the gRPC status name of the refusal. */
async function tryIssue(fixture: CaServerFixture, token: string): Promise<string> {
  const client = fixture.client();
  try {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    await client.createCertificate({ csrPem, token, deadlineMs: 5000 });
    return 'issued';
  } catch (err) {
    if (err instanceof CaCallError) return err.grpcCode === 16 ? 'UNAUTHENTICATED' : `status ${err.grpcCode}`;
    throw err;
  } finally {
    client.close();
  }
}

describe('token keys rotate without a restart', () => {
  test("SIGHUP after replacing the embedded issuer's key: old tokens (even cached ones) are refused, new ones accepted", async () => {
    const fixture = await startFixtureServer();
    try {
      const old = await fixture.token('foo', 'sleep');
      assert.equal(await tryIssue(fixture, old), 'issued'); // now in the verified-token cache
      // The operator rotates the key: remove it; the next load makes a new one.
      await rm(join(fixture.dataDir, 'issuer', 'key.pem'));
      assert.equal(await fixture.server.reload(), true, 'reload reports the change');
      assert.equal(await tryIssue(fixture, old), 'UNAUTHENTICATED');
      const fresh = await (await loadOrCreateTokenIssuer(join(fixture.dataDir, 'issuer'))).mint({
        namespace: 'foo',
        serviceAccount: 'sleep',
      });
      assert.equal(await tryIssue(fixture, fresh), 'issued');
      assert.ok(fixture.logs.some((l) => l.event === 'token-keys-reloaded'));
    } finally {
      await fixture.close();
    }
  });

  test('a changed JWT_RULE jwks_file is picked up by itself; a broken one keeps the last good keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-jwks-'));
    const jwksFile = join(dir, 'jwks.json');
    const first = await externalKey();
    const second = await externalKey();
    await writeFile(jwksFile, first.jwks);
    const fixture = await startFixtureServer({
      trustedIssuers: [{ issuer: ISSUER, audiences: ['istio-ca'], jwks: JSON.parse(first.jwks), jwksFile }],
    });
    try {
      const byFirst = await externalToken(first);
      assert.equal(await tryIssue(fixture, byFirst), 'issued');

      // A half-written file is refused; the first key keeps working.
      await writeFile(`${jwksFile}.tmp`, '{"keys": [');
      await rename(`${jwksFile}.tmp`, jwksFile);
      await waitFor('the broken JWKS to be refused', () =>
        fixture.logs.some((l) => l.event === 'token-keys-reload-failed') ? true : undefined,
      );
      assert.equal(await tryIssue(fixture, byFirst), 'issued');

      // The API server's key rotated: only the second key is published.
      await writeFile(`${jwksFile}.tmp`, second.jwks);
      await rename(`${jwksFile}.tmp`, jwksFile);
      await waitFor('the first key to stop verifying', async () =>
        (await tryIssue(fixture, byFirst)) === 'UNAUTHENTICATED' ? true : undefined,
      );
      assert.equal(await tryIssue(fixture, await externalToken(second)), 'issued');
    } finally {
      await fixture.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
