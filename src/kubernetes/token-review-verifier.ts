// Checks workload tokens the way istiod does in a cluster: a TokenReview to the API server, with
// the CA's audiences (Istio's TOKEN_AUDIENCES, default istio-ca). Answers are cached for a short,
// bounded time; a review that fails or times out is UNAVAILABLE (the agent retries), never
// UNAUTHENTICATED, because the token may be perfectly good.
import type { V1TokenReview } from '@kubernetes/client-node';
import { unauthenticated, unavailable } from '../errors.js';
import { cacheVerifiedTokens } from '../identity/cache-verified-tokens.js';
import type { Caller } from '../identity/caller.js';
import { parseServiceAccountSubject } from '../identity/caller-from-claims.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import { kubeApiError } from './kube-api-error.js';
import type { KubeClient } from './kube-client.js';

/** The issuer recorded for callers proven by TokenReview. */
export const TOKEN_REVIEW_ISSUER = 'kubernetes-token-review';
const POD_NAME = 'authentication.kubernetes.io/pod-name';
const POD_UID = 'authentication.kubernetes.io/pod-uid';

export interface TokenReviewOptions {
  client: KubeClient;
  audiences: string[];
  /** How long one review may take (default 5 s). */
  timeoutMs?: number;
  /** How long an answer is reused (default 60 s) and how many are kept (default 10,000). */
  cacheMs?: number;
  cacheEntries?: number;
}

function first(values: string[] | undefined): string | undefined {
  return Array.isArray(values) && typeof values[0] === 'string' ? values[0] : undefined;
}

function callerOf(review: V1TokenReview, audiences: string[]): Caller {
  const status = review.status;
  if (!status?.authenticated) {
    throw unauthenticated(
      'KUBE_TOKEN_REJECTED',
      `the Kubernetes API server did not authenticate the token for audience ${audiences.join(' or ')}: ${status?.error || 'no reason given'}; use a current service-account token made for that audience (kubectl create token SA --audience ${audiences[0]})`,
    );
  }
  const { namespace, serviceAccount } = parseServiceAccountSubject(status.user?.username);
  const podName = first(status.user?.extra?.[POD_NAME]);
  const podUid = first(status.user?.extra?.[POD_UID]);
  return {
    namespace,
    serviceAccount,
    via: 'token',
    issuer: TOKEN_REVIEW_ISSUER,
    subject: status.user?.username ?? '',
    ...(podName ? { pod: { name: podName, ...(podUid ? { uid: podUid } : {}) } } : {}),
  };
}

export function createTokenReviewVerifier(opts: TokenReviewOptions): TokenVerifier {
  const { client, audiences } = opts;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const review: TokenVerifier = {
    async verify(token) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              unavailable(
                'KUBE_TOKEN_REVIEW_UNAVAILABLE',
                `the TokenReview at ${client.server} did not answer within ${timeoutMs} ms; the token could not be checked, try again`,
              ),
            ),
          timeoutMs,
        );
      });
      let answer: V1TokenReview;
      try {
        answer = await Promise.race([
          client.authentication.createTokenReview({
            body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } },
          }),
          timeout,
        ]);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'KUBE_TOKEN_REVIEW_UNAVAILABLE') throw err;
        const mapped = kubeApiError(
          err,
          { verb: 'create', resource: 'tokenreviews.authentication.k8s.io' },
          client.server,
        );
        throw unavailable(
          'KUBE_TOKEN_REVIEW_UNAVAILABLE',
          `the token could not be checked by TokenReview: ${mapped.message}`,
          mapped,
        );
      } finally {
        clearTimeout(timer);
      }
      return callerOf(answer, audiences);
    },
  };
  return cacheVerifiedTokens(review, { maxAgeMs: opts.cacheMs ?? 60_000, maxEntries: opts.cacheEntries });
}
