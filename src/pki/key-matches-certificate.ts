// Whether a key (private or public) is the one a certificate certifies: the check that catches a
// ca-key.pem that does not belong to its ca-cert.pem before anything is signed with it.
import type { KeyObject } from 'node:crypto';
import { publicKeyOf } from './keys.js';
import type { CertificateInfo } from './types.js';

/** Compares the DER SubjectPublicKeyInfo of both public keys, as Node re-encodes them (so EC point forms agree). */
export function keyMatchesCertificate(key: KeyObject, cert: CertificateInfo): boolean {
  const mine = publicKeyOf(key).export({ type: 'spki', format: 'der' });
  const theirs = cert.publicKey.export({ type: 'spki', format: 'der' });
  return mine.equals(theirs);
}
