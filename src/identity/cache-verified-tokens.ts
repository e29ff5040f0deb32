// Remembers tokens that verified, until they expire: an agent sends the same projected token with
// every renewal, and a signature check per request was the CA's largest single cost (npm run bench).
import { decodeJwt } from 'jose';
import type { Caller } from './caller.js';
import { CLOCK_TOLERANCE_SECONDS, type TokenVerifier } from './token-verifier.js';

export interface TokenCacheOptions {
  /** Bound on remembered tokens; the oldest is dropped first. */
  maxEntries?: number;
  /**
   * How long a result is reused at most, even when the token lives longer: a TokenReview answer can
   * change (a deleted pod or service account), a signature cannot. Default: until the token expires.
   */
  maxAgeMs?: number;
}

interface Entry {
  caller: Caller;
  /** Milliseconds; the token is reused only inside [notBeforeMs, expiresMs) with the verifier's skew allowance. */
  notBeforeMs: number;
  expiresMs: number;
  /** When the answer itself goes stale (maxAgeMs), whatever the token's lifetime. */
  reuseUntilMs: number;
}

/**
 * A verifier that checks each distinct token once. The same string carries the same claims and
 * signature, so only the time checks can change; they are redone on every hit. A token without
 * `exp` is never cached. Failures are never cached, so a fixed clock or key takes effect at once.
 */
export function cacheVerifiedTokens(inner: TokenVerifier, opts: TokenCacheOptions = {}): TokenVerifier {
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const skewMs = CLOCK_TOLERANCE_SECONDS * 1000;
  return {
    async verify(token, now = new Date()) {
      const at = now.getTime();
      const hit = entries.get(token);
      if (hit) {
        if (at >= hit.notBeforeMs - skewMs && at < hit.expiresMs + skewMs && at < hit.reuseUntilMs)
          return hit.caller;
        entries.delete(token); // expired: the full check below reports why
      }
      const caller = await inner.verify(token, now);
      const claims = decodeJwt(token);
      if (typeof claims.exp === 'number') {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
        entries.set(token, {
          caller,
          notBeforeMs: typeof claims.nbf === 'number' ? claims.nbf * 1000 : Number.NEGATIVE_INFINITY,
          expiresMs: claims.exp * 1000,
          reuseUntilMs: at + (opts.maxAgeMs ?? Number.POSITIVE_INFINITY),
        });
      }
      return caller;
    },
  };
}
