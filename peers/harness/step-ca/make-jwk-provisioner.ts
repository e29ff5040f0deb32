// A step-ca JWK provisioner as `step ca init` makes one: a fresh ES256 key whose public half step-ca
// publishes and whose private half it keeps as a PBES2 JWE that only the password opens.
import { randomBytes } from 'node:crypto';
import { CompactEncrypt, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface JwkProvisionerEntry {
  type: 'JWK';
  name: string;
  key: JWK;
  encryptedKey: string;
}

// step's own PBES2 iteration count, so `step` and step-issuer open the key as they would one of theirs.
const PBES2_COUNT = 100_000;

/** The ca.json entry and the key id (the RFC 7638 thumbprint, as step computes it). */
export async function makeJwkProvisioner(
  name: string,
  password: string,
): Promise<{ entry: JwkProvisionerEntry; kid: string }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK, 'sha256');
  const publicJwk = { use: 'sig', kty, kid, crv, alg: 'ES256', x, y };
  const encryptedKey = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ ...publicJwk, d })))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c: PBES2_COUNT, p2s: randomBytes(16) })
    .encrypt(new TextEncoder().encode(password));
  return { entry: { type: 'JWK', name, key: publicJwk, encryptedKey }, kid };
}
