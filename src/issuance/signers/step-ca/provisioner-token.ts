// The one-time token (OTT) step-ca's /1.0/sign demands: a short-lived JWT naming the provisioner,
// the sign endpoint and the one SAN to certify, signed by the provisioner's JWK or by an X5C chain.
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

/** step-ca allows a minute of clock skew; five minutes of life is what `step ca token` gives too. */
export const TOKEN_LIFETIME_SECONDS = 300;

export interface ProvisionerTokenOptions {
  key: CryptoKey | KeyObject | Uint8Array;
  alg: string;
  /** `kid` for a JWK provisioner, `x5c` (base64 DER, leaf first) for an X5C one. */
  header: { kid: string } | { x5c: string[] };
  /** The provisioner's name (`iss`). */
  provisioner: string;
  /** `<step-ca url>/1.0/sign` (`aud`). */
  audience: string;
  spiffeId: string;
  now: Date;
}

export async function signProvisionerToken(opts: ProvisionerTokenOptions): Promise<string> {
  const now = Math.floor(opts.now.getTime() / 1000);
  return (
    new SignJWT({ sans: [opts.spiffeId] })
      .setProtectedHeader({ alg: opts.alg, typ: 'JWT', ...opts.header })
      .setIssuer(opts.provisioner)
      .setAudience(opts.audience)
      .setSubject(opts.spiffeId)
      // step-ca records each jti and refuses a token seen before, so every token is unique.
      .setJti(randomBytes(32).toString('hex'))
      .setNotBefore(now)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
      .sign(opts.key)
  );
}
