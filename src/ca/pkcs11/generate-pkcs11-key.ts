// Making a CA key pair inside a token: the private key sensitive and not extractable, so it can
// sign but never be read out, labelled with the URI's object= (and id=, or a random id).
import { randomBytes } from 'node:crypto';
import type * as Pkcs11js from 'pkcs11js';
import { configError, isMeshcaError } from '../../errors.js';
import { EC_CURVES } from '../../pki/public-key-from-parts.js';
import type { KeyType } from '../../pki/types.js';
import { findObjects } from './find-token-key.js';
import { openPkcs11CaKey, type Pkcs11CaKey, type TokenKeyRef } from './pkcs11-ca-key.js';
import { pkcs11ErrorName } from './pkcs11-module.js';
import { parsePkcs11Uri } from './pkcs11-uri.js';
import { openTokenSession } from './token-session.js';

function templates(
  binding: typeof Pkcs11js,
  keyType: KeyType,
  label: string,
  id: Buffer,
): { mechanism: number; publicKey: Pkcs11js.Template; privateKey: Pkcs11js.Template } {
  const common = [
    { type: binding.CKA_TOKEN, value: true },
    { type: binding.CKA_LABEL, value: label },
    { type: binding.CKA_ID, value: id },
  ];
  const privateKey: Pkcs11js.Template = [
    ...common,
    { type: binding.CKA_CLASS, value: binding.CKO_PRIVATE_KEY },
    { type: binding.CKA_PRIVATE, value: true },
    { type: binding.CKA_SENSITIVE, value: true },
    { type: binding.CKA_EXTRACTABLE, value: false },
    { type: binding.CKA_SIGN, value: true },
    // A CA key signs and does nothing else.
    { type: binding.CKA_DECRYPT, value: false },
    { type: binding.CKA_UNWRAP, value: false },
  ];
  const publicCommon = [
    ...common,
    { type: binding.CKA_CLASS, value: binding.CKO_PUBLIC_KEY },
    { type: binding.CKA_PRIVATE, value: false },
    { type: binding.CKA_VERIFY, value: true },
  ];
  if (keyType === 'ec-p256' || keyType === 'ec-p384') {
    const curve = EC_CURVES[keyType === 'ec-p256' ? 'P-256' : 'P-384'];
    return {
      mechanism: binding.CKM_EC_KEY_PAIR_GEN,
      publicKey: [...publicCommon, { type: binding.CKA_EC_PARAMS, value: curve.oidDer }],
      privateKey,
    };
  }
  return {
    mechanism: binding.CKM_RSA_PKCS_KEY_PAIR_GEN,
    publicKey: [
      ...publicCommon,
      { type: binding.CKA_MODULUS_BITS, value: Number(keyType.slice(4)) },
      { type: binding.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    ],
    privateKey,
  };
}

/**
 * Generates a `keyType` key pair in the token `ref` names, under its object= label, and opens it.
 * Refuses when the token already holds a private key under that label or id: a CA key is never replaced.
 */
export async function generatePkcs11Key(ref: TokenKeyRef, keyType: KeyType): Promise<Pkcs11CaKey> {
  const uri = parsePkcs11Uri(ref.uri);
  if (uri.object === undefined) {
    throw configError(
      'PKCS11_OPERATION_FAILED',
      `${uri.display}: a key made in the token needs a label; add object=NAME to the URI`,
    );
  }
  const token = await openTokenSession(uri, ref.allowPinValue);
  try {
    const { lib, binding } = token.module;
    if (findObjects(token, binding.CKO_PRIVATE_KEY, 1).length > 0) {
      throw configError(
        'PKCS11_KEY_EXISTS',
        `${uri.display}: the token already holds a private key with this label${uri.id ? ' or id' : ''}; meshca never replaces a CA key: pick another object= name, or delete the old key yourself (pkcs11-tool --delete-object)`,
      );
    }
    const t = templates(binding, keyType, uri.object, uri.id ?? randomBytes(8));
    await lib.C_GenerateKeyPairAsync(token.session, { mechanism: t.mechanism }, t.publicKey, t.privateKey);
  } catch (err) {
    if (isMeshcaError(err)) throw err;
    throw configError(
      'PKCS11_OPERATION_FAILED',
      `${uri.display}: generating a ${keyType} key pair in the token failed (${pkcs11ErrorName(err)}); check that the token supports this key type and has room`,
      err,
    );
  } finally {
    token.close();
  }
  return openPkcs11CaKey(ref);
}

/** The key `ref` names, made first when the token does not hold it yet (the self-signed root's key). */
export async function openOrGeneratePkcs11Key(ref: TokenKeyRef, keyType: KeyType): Promise<Pkcs11CaKey> {
  try {
    return await openPkcs11CaKey(ref);
  } catch (err) {
    if (isMeshcaError(err) && err.code === 'PKCS11_KEY_NOT_FOUND') return generatePkcs11Key(ref, keyType);
    throw err;
  }
}
