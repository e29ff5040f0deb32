// The private key a URI names inside a logged-in token, and its public half as a KeyObject (from
// the matching public-key object, or the RSA private key's own public attributes): what the CA
// compares with its certificate and puts into what it signs.
import type { KeyObject } from 'node:crypto';
import type * as Pkcs11js from 'pkcs11js';
import { configError, isMeshcaError } from '../../errors.js';
import { ecPublicKeyFromParts, rsaPublicKeyFromParts } from '../../pki/public-key-from-parts.js';
import { pkcs11ErrorName } from './pkcs11-module.js';
import type { TokenSession } from './token-session.js';

export interface TokenKey {
  handle: Pkcs11js.Handle;
  publicKey: KeyObject;
  algorithm: 'ec' | 'rsa';
}

/** At most this many objects are read per search: a URI that matches more is ambiguous anyway. */
const MAX_MATCHES = 8;

/** Handles of the objects of `objectClass` the URI's object= and id= select. */
export function findObjects(token: TokenSession, objectClass: number, max = MAX_MATCHES): Pkcs11js.Handle[] {
  const { lib, binding } = token.module;
  const template: Pkcs11js.Template = [{ type: binding.CKA_CLASS, value: objectClass }];
  if (token.uri.object !== undefined) template.push({ type: binding.CKA_LABEL, value: token.uri.object });
  if (token.uri.id !== undefined) template.push({ type: binding.CKA_ID, value: token.uri.id });
  lib.C_FindObjectsInit(token.session, template);
  try {
    return lib.C_FindObjects(token.session, max);
  } finally {
    lib.C_FindObjectsFinal(token.session);
  }
}

function attribute(token: TokenSession, handle: Pkcs11js.Handle, type: number): Buffer | undefined {
  try {
    const [attr] = token.module.lib.C_GetAttributeValue(token.session, handle, [{ type }]);
    return attr?.value as Buffer | undefined;
  } catch {
    return undefined;
  }
}

function publicKeyOfEc(token: TokenSession, privateHandle: Pkcs11js.Handle): KeyObject {
  const { binding } = token.module;
  const params = attribute(token, privateHandle, binding.CKA_EC_PARAMS);
  const id = attribute(token, privateHandle, binding.CKA_ID);
  // The point lives on the public-key object made with the private key: same CKA_ID (and label).
  const { lib } = token.module;
  const template: Pkcs11js.Template = [{ type: binding.CKA_CLASS, value: binding.CKO_PUBLIC_KEY }];
  if (id && id.length > 0) template.push({ type: binding.CKA_ID, value: id });
  else if (token.uri.object !== undefined)
    template.push({ type: binding.CKA_LABEL, value: token.uri.object });
  lib.C_FindObjectsInit(token.session, template);
  let publics: Pkcs11js.Handle[];
  try {
    publics = lib.C_FindObjects(token.session, 2);
  } finally {
    lib.C_FindObjectsFinal(token.session);
  }
  const point = publics.length === 1 ? attribute(token, publics[0]!, binding.CKA_EC_POINT) : undefined;
  if (!params || !point) {
    throw configError(
      'PKCS11_KEY_NOT_FOUND',
      `${token.uri.display}: the EC private key has no single public-key object with the same id beside it, so meshca cannot learn its public key; keep the public key that was generated with it in the token`,
    );
  }
  return ecPublicKeyFromParts(params, point, token.uri.display);
}

/** Finds the one private key the URI names; refuses none, several, or a kind meshca does not sign with. */
export function findTokenKey(token: TokenSession): TokenKey {
  const { binding } = token.module;
  const { uri } = token;
  let handles: Pkcs11js.Handle[];
  try {
    handles = findObjects(token, binding.CKO_PRIVATE_KEY);
  } catch (err) {
    throw configError(
      'PKCS11_OPERATION_FAILED',
      `${uri.display}: searching the token failed (${pkcs11ErrorName(err)})`,
      err,
    );
  }
  const named = [
    uri.object !== undefined ? `object=${uri.object}` : '',
    uri.id ? `id=${uri.id.toString('hex')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (handles.length === 0) {
    throw configError(
      'PKCS11_KEY_NOT_FOUND',
      `${uri.display}: the token holds no private key with ${named}; list its keys with "pkcs11-tool --module ${uri.modulePath} --login --list-objects --type privkey", or make one with "meshca certs root-ca --key URI" / "meshca certs intermediate NAME --key URI"`,
    );
  }
  if (handles.length > 1) {
    throw configError(
      'PKCS11_KEY_AMBIGUOUS',
      `${uri.display}: ${handles.length} private keys in the token match ${named}; add id= (or a label of its own) to name one`,
    );
  }
  const handle = handles[0]!;
  const keyType = attribute(token, handle, binding.CKA_KEY_TYPE)?.readUInt32LE(0);
  try {
    if (keyType === binding.CKK_EC)
      return { handle, algorithm: 'ec', publicKey: publicKeyOfEc(token, handle) };
    if (keyType === binding.CKK_RSA) {
      const modulus = attribute(token, handle, binding.CKA_MODULUS);
      const exponent = attribute(token, handle, binding.CKA_PUBLIC_EXPONENT);
      if (modulus && exponent) {
        const publicKey = rsaPublicKeyFromParts(modulus, exponent);
        const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
        if (bits >= 2048 && bits <= 4096) return { handle, algorithm: 'rsa', publicKey };
      }
    }
  } catch (err) {
    if (!isMeshcaError(err) || err.code !== 'PKI_KEY_UNSUPPORTED') throw err;
  }
  throw configError(
    'PKCS11_KEY_UNSUPPORTED',
    `${uri.display}: the key is not one meshca signs with; use an EC P-256 or P-384 key, or RSA of 2048 to 4096 bits`,
  );
}
