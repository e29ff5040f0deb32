// When the agent tries again: exponential backoff with jitter for a CA that cannot be reached, and
// the renewal time of a certificate (Istio's SECRET_GRACE_PERIOD_RATIO with ±1% jitter).

export interface Backoff {
  /** The delay before the next retry; each call doubles the base, up to the cap. */
  next(): number;
  /** After a success, start again from the initial delay. */
  reset(): void;
}

/**
 * "Equal jitter": half the exponential step is kept, half is random, so retries still spread out
 * over time while a fleet of agents that lost the CA together does not come back in lockstep.
 */
export function createBackoff(
  opts: { initialMs?: number; maxMs?: number; random?: () => number } = {},
): Backoff {
  const initial = opts.initialMs ?? 100;
  const max = opts.maxMs ?? 60_000;
  const random = opts.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const step = Math.min(max, initial * 2 ** attempt);
      attempt = Math.min(attempt + 1, 40); // 2**40 × 100 ms is far past any cap; stop growing
      return Math.round(step / 2 + random() * (step / 2));
    },
    reset() {
      attempt = 0;
    },
  };
}

/** The jitter Istio's agent adds to the grace ratio, as a fraction of the certificate's lifetime. */
export const GRACE_RATIO_JITTER = 0.01;
/** A CA handing out certificates that are (nearly) expired must not be asked again in a tight loop. */
export const MIN_RENEWAL_DELAY_MS = 1000;

export interface RenewalTimeOptions {
  notBefore: Date;
  notAfter: Date;
  /** When the agent received the certificate. */
  receivedAt: Date;
  /** Fraction of the lifetime left when renewing, like Istio's SECRET_GRACE_PERIOD_RATIO (0.5). */
  graceRatio: number;
  random?: () => number;
}

/**
 * When to renew. As Istio's agent does, the lifetime is counted from when the certificate arrived
 * rather than from notBefore: CAs backdate notBefore (meshca and Istio by 2 minutes) to absorb
 * clock skew, which for a short-lived certificate would put the renewal time in the past.
 */
export function renewalTime(opts: RenewalTimeOptions): Date {
  const start = Math.max(opts.notBefore.getTime(), opts.receivedAt.getTime());
  const end = opts.notAfter.getTime();
  const lifetime = Math.max(0, end - start);
  const jitter = ((opts.random ?? Math.random)() * 2 - 1) * GRACE_RATIO_JITTER;
  const ratio = Math.min(1, Math.max(0, opts.graceRatio + jitter));
  return new Date(end - ratio * lifetime);
}
