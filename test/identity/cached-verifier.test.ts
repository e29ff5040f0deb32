// The token cache in front of a real verifier: it passes the same conformance suite, and a cached
// token is still refused once it expires or before it is valid.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cacheVerifiedTokens } from '../../src/identity/cache-verified-tokens.js';
import { loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import {
  createTokenVerifier,
  ISTIO_CA_AUDIENCE,
  type TokenVerifier,
} from '../../src/identity/token-verifier.js';
import { embeddedIssuerSubject } from './embedded-issuer-subject.js';
import { runTokenVerifierConformance } from './token-verifier.conformance.js';

runTokenVerifierConformance('embedded token issuer behind the token cache', () =>
  embeddedIssuerSubject(cacheVerifiedTokens),
);

test('a cached token is checked again against the clock, and the inner verifier runs once per token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshca-identity-'));
  try {
    const issuer = await loadOrCreateTokenIssuer(join(dir, 'issuer'));
    const real = createTokenVerifier([
      { issuer: issuer.issuer, audiences: [ISTIO_CA_AUDIENCE], jwks: issuer.jwks() },
    ]);
    let calls = 0;
    const counting: TokenVerifier = {
      verify: (token, now) => {
        calls += 1;
        return real.verify(token, now);
      },
    };
    const cached = cacheVerifiedTokens(counting, { maxEntries: 2 });
    const issuedAt = new Date();
    const token = await issuer.mint({
      namespace: 'foo',
      serviceAccount: 'sleep',
      ttlSeconds: 600,
      now: issuedAt,
    });
    for (let i = 0; i < 5; i++) assert.equal((await cached.verify(token, issuedAt)).serviceAccount, 'sleep');
    assert.equal(calls, 1);
    const later = new Date(issuedAt.getTime() + 3600_000);
    await assert.rejects(
      cached.verify(token, later),
      (err: Error & { code?: string }) => err.code === 'IDENTITY_TOKEN_EXPIRED',
    );
    const earlier = new Date(issuedAt.getTime() - 3600_000);
    await assert.rejects(
      cached.verify(token, earlier),
      (err: Error & { code?: string }) => err.code === 'IDENTITY_TOKEN_NOT_YET_VALID',
    );
    // Bounded: with room for two, a third token pushes the oldest out and it is verified again.
    const others = await Promise.all(
      ['a', 'b'].map((sa) => issuer.mint({ namespace: 'foo', serviceAccount: sa, now: issuedAt })),
    );
    await cached.verify(token, issuedAt);
    for (const t of others) await cached.verify(t, issuedAt);
    const before = calls;
    await cached.verify(token, issuedAt);
    assert.equal(calls, before + 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
