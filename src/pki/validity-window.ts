// The validity of a leaf certificate: a positive lifetime, backdated for clock skew, never past its
// issuer's NotAfter.
import { caUnusable, invalidInput } from '../errors.js';

/** Backdating absorbs clock skew between the CA and the workloads that check the certificate (Istio does the same). */
export const BACKDATE_MS = 2 * 60 * 1000;

/** Refuses a lifetime that is not a positive, finite number of seconds (PKI_TTL_INVALID). */
export function checkTtlSeconds(ttlSeconds: number): void {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw invalidInput(
      'PKI_TTL_INVALID',
      `the certificate lifetime must be a positive number of seconds; got ${String(ttlSeconds)}`,
    );
  }
}

/**
 * NotBefore = now − 2 minutes; NotAfter = now + ttl, but never past the issuer's own NotAfter
 * (a leaf outliving its CA would fail verification anyway). Whole seconds, as X.509 stores them.
 */
export function validityWindow(
  now: Date,
  ttlSeconds: number,
  issuerNotAfter: Date,
): { notBefore: Date; notAfter: Date } {
  checkTtlSeconds(ttlSeconds);
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw invalidInput('PKI_TIME_INVALID', 'the issuance time is not a valid date');
  if (issuerNotAfter.getTime() <= nowMs) {
    throw caUnusable(
      'PKI_ISSUER_EXPIRED',
      `the issuing CA certificate expired at ${issuerNotAfter.toISOString()}; plug in a new CA certificate before issuing`,
    );
  }
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  const notBefore = new Date(second(nowMs) - BACKDATE_MS);
  const notAfter = new Date(Math.min(second(nowMs + ttlSeconds * 1000), second(issuerNotAfter.getTime())));
  return { notBefore, notAfter };
}
