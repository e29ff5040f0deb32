// The CA's token verification, re-read without a restart: the embedded issuer's key (data-dir/issuer)
// and every JWT_RULE jwks_file are loaded again on SIGHUP and when their files change. A key that is
// gone stops verifying at once: each new key set gets a fresh verified-token cache, so a token that
// verified under a removed key is not kept alive by the cache.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DirectoryWatch, watchDirectory } from '../lib/watch-directory.js';
import type { Logger } from '../log.js';
import { cacheVerifiedTokens } from './cache-verified-tokens.js';
import { readJwksFile } from './parse-jwt-rules.js';
import { loadOrCreateTokenIssuer } from './token-issuer.js';
import { createTokenVerifier, type TokenVerifier, type TrustedIssuer } from './token-verifier.js';

export interface ReloadableTokenVerifier extends TokenVerifier {
  /** Re-reads every key source; true when the keys changed. A bad source keeps the last good keys. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface ReloadableTokenVerifierOptions {
  /** The embedded issuer's directory (`<data-dir>/issuer`). */
  issuerDir: string;
  /** Audiences the embedded issuer's tokens must carry. */
  audiences: string[];
  /** JWT_RULE issuers; those with `jwksFile` are re-read. */
  trustedIssuers: TrustedIssuer[];
  log: Logger;
  /** Watch the key files and reload on change (default true). */
  watch?: boolean;
  debounceMs?: number;
}

export async function createReloadableTokenVerifier(
  opts: ReloadableTokenVerifierOptions,
): Promise<ReloadableTokenVerifier> {
  const load = async (): Promise<TrustedIssuer[]> => {
    const embedded = await loadOrCreateTokenIssuer(opts.issuerDir);
    return [
      { issuer: embedded.issuer, audiences: opts.audiences, jwks: embedded.jwks() },
      ...opts.trustedIssuers.map((t) =>
        t.jwksFile ? { ...t, jwks: readJwksFile(t.jwksFile, (p) => readFileSync(p, 'utf8')) } : t,
      ),
    ];
  };
  const fingerprint = (issuers: TrustedIssuer[]) => JSON.stringify(issuers.map((i) => [i.issuer, i.jwks]));
  let issuers = await load();
  let current = cacheVerifiedTokens(createTokenVerifier(issuers));

  let reloading: Promise<boolean> | undefined;
  const reloadOnce = async (): Promise<boolean> => {
    let next: TrustedIssuer[];
    try {
      next = await load();
    } catch (err) {
      opts.log.error('token keys refused; the last good keys stay in use', {
        event: 'token-keys-reload-failed',
        reason: (err as Error).message,
      });
      return false;
    }
    if (fingerprint(next) === fingerprint(issuers)) return false;
    issuers = next;
    current = cacheVerifiedTokens(createTokenVerifier(issuers));
    opts.log.info('token keys reloaded; tokens signed by removed keys are refused from now on', {
      event: 'token-keys-reloaded',
      issuers: issuers.map((i) => `${i.issuer} (${i.jwks.keys.length} keys)`),
    });
    return true;
  };
  const reload = () => {
    // One reload at a time; a change during one is picked up by the next event or SIGHUP.
    reloading ??= reloadOnce().finally(() => {
      reloading = undefined;
    });
    return reloading;
  };

  const watches: DirectoryWatch[] = [];
  if (opts.watch !== false) {
    const dirs = new Set([
      opts.issuerDir,
      ...opts.trustedIssuers.flatMap((t) => (t.jwksFile ? [dirname(t.jwksFile)] : [])),
    ]);
    for (const dir of dirs)
      watches.push(watchDirectory(dir, () => void reload(), { debounceMs: opts.debounceMs }));
  }
  return {
    verify: (token, now) => current.verify(token, now),
    reload,
    close() {
      for (const w of watches) w.close();
    },
  };
}
