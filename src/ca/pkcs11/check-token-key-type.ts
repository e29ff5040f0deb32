// The first check of a token key against the certificate it should sign for: the same kind of key
// (an RSA key cannot be the key of an EC certificate), said plainly before the generic mismatch.

import { configError } from '../../errors.js';
import { describeKey } from '../../pki/keys.js';
import type { CaKey, CertificateInfo } from '../../pki/types.js';

export function checkTokenKeyType(
  key: CaKey & { display: string },
  cert: CertificateInfo,
  certPath: string,
): void {
  const mine = describeKey(key.publicKey);
  const theirs = cert.keyDescription;
  const sameKind = key.publicKey.asymmetricKeyType === cert.publicKey.asymmetricKeyType;
  const sameCurve =
    key.publicKey.asymmetricKeyDetails?.namedCurve === cert.publicKey.asymmetricKeyDetails?.namedCurve;
  if (sameKind && sameCurve) return;
  throw configError(
    'PKCS11_KEY_TYPE_MISMATCH',
    `${key.display}: the key in the token is ${mine}, but ${certPath} ("${cert.subject}") holds an ${theirs} key, so this cannot be its key; give the URI of the key made together with this certificate`,
  );
}
