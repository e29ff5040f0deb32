// Checks workload tokens offline, with the API server's own service-account issuer keys: the OIDC
// discovery document gives the issuer, /openid/v1/jwks the keys. No call per token (unlike
// TokenReview); a token signed by a key we do not know yet makes one refetch (at most every few
// seconds), so the API server's key rotation is picked up without a restart.
import type { JSONWebKeySet } from 'jose';
import { unavailable } from '../errors.js';
import { cacheVerifiedTokens } from '../identity/cache-verified-tokens.js';
import { createTokenVerifier, type TokenVerifier } from '../identity/token-verifier.js';
import type { Logger } from '../log.js';
import { kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';

export interface JwksVerifierOptions {
  client: KubeClient;
  audiences: string[];
  log: Logger;
  /** Least time between two refetches of the keys (default 5 s): forged tokens cannot hammer the API server. */
  minRefreshMs?: number;
}

/** The generated client types these answers as strings but hands over parsed JSON; take either. */
const asJson = (answer: unknown): unknown => (typeof answer === 'string' ? JSON.parse(answer) : answer);

async function fetchIssuerKeys(client: KubeClient): Promise<{ issuer: string; jwks: JSONWebKeySet }> {
  try {
    const discovery = asJson(await client.wellKnown.getServiceAccountIssuerOpenIDConfiguration()) as {
      issuer?: unknown;
    };
    const jwks = asJson(await client.openid.getServiceAccountIssuerOpenIDKeyset()) as JSONWebKeySet;
    if (typeof discovery?.issuer !== 'string' || !Array.isArray(jwks?.keys))
      throw unavailable(
        'KUBE_JWKS_UNAVAILABLE',
        `the API server at ${client.server} sent no usable service-account issuer or keys; check --service-account-issuer on the API server, or use TokenReview`,
      );
    return { issuer: discovery.issuer, jwks };
  } catch (err) {
    const mapped = kubeApiError(
      err,
      { verb: 'get', resource: 'nonResourceURL /.well-known/openid-configuration' },
      client.server,
    );
    throw unavailable(
      'KUBE_JWKS_UNAVAILABLE',
      `cannot read the service-account issuer's keys: ${mapped.message}`,
      mapped,
    );
  }
}

export async function createKubernetesJwksVerifier(opts: JwksVerifierOptions): Promise<TokenVerifier> {
  const { client, audiences, log } = opts;
  const minRefreshMs = opts.minRefreshMs ?? 5000;
  let keys = await fetchIssuerKeys(client);
  let verifier = cacheVerifiedTokens(createTokenVerifier([{ ...keys, audiences }]));
  let fetchedAt = Date.now();
  log.info("checking tokens offline with the API server's service-account keys", {
    event: 'kube-jwks-loaded',
    issuer: keys.issuer,
    keys: keys.jwks.keys.length,
  });
  const refresh = async (): Promise<boolean> => {
    if (Date.now() - fetchedAt < minRefreshMs) return false;
    fetchedAt = Date.now();
    const next = await fetchIssuerKeys(client);
    if (JSON.stringify(next) === JSON.stringify(keys)) return false;
    keys = next;
    verifier = cacheVerifiedTokens(createTokenVerifier([{ ...keys, audiences }]));
    log.info("the API server's service-account keys changed; using the new set", {
      event: 'kube-jwks-rotated',
      keys: keys.jwks.keys.length,
    });
    return true;
  };
  return {
    async verify(token, now) {
      try {
        return await verifier.verify(token, now);
      } catch (err) {
        // An unknown key may be a rotated one: look once more, then judge.
        if ((err as { code?: string }).code !== 'IDENTITY_TOKEN_BAD_SIGNATURE') throw err;
        if (!(await refresh())) throw err;
        return verifier.verify(token, now);
      }
    },
  };
}
