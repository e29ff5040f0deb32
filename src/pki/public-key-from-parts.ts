// A public key rebuilt from the parts a PKCS#11 token reports (CKA_EC_PARAMS and CKA_EC_POINT, or
// CKA_MODULUS and CKA_PUBLIC_EXPONENT), so a key that never leaves its token can still be compared
// with certificates and put into them.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { invalidInput } from '../errors.js';
import { readDer, TAG } from './der-reader.js';
import { oid } from './der-writer.js';

/** The named curves meshca signs with, by the DER of their OID (what CKA_EC_PARAMS holds). */
export const EC_CURVES = {
  'P-256': { oidDer: oid('1.2.840.10045.3.1.7'), coordinateBytes: 32 },
  'P-384': { oidDer: oid('1.3.132.0.34'), coordinateBytes: 48 },
} as const;
export type EcCurveName = keyof typeof EC_CURVES;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** `ecParams`: DER OID of the curve; `ecPoint`: the uncompressed point, bare or wrapped in an OCTET STRING. */
export function ecPublicKeyFromParts(ecParams: Buffer, ecPoint: Buffer, what: string): KeyObject {
  const curve = (Object.keys(EC_CURVES) as EcCurveName[]).find((name) =>
    EC_CURVES[name].oidDer.equals(ecParams),
  );
  if (!curve) {
    throw invalidInput(
      'PKI_KEY_UNSUPPORTED',
      `${what}: an EC key on a curve other than P-256 or P-384 (parameters ${ecParams.toString('hex')})`,
    );
  }
  const size = EC_CURVES[curve].coordinateBytes;
  let point = ecPoint;
  // PKCS#11 says DER OCTET STRING; some modules hand the bare point. Both start with a known byte.
  if (point.length !== 1 + 2 * size && point[0] === TAG.OCTET_STRING) {
    const node = readDer(point);
    point = point.subarray(node.valueStart, node.end);
  }
  if (point.length !== 1 + 2 * size || point[0] !== 0x04) {
    throw invalidInput('PKI_KEY_UNSUPPORTED', `${what}: the EC point is not an uncompressed ${curve} point`);
  }
  return createPublicKey({
    format: 'jwk',
    key: {
      kty: 'EC',
      crv: curve,
      x: b64url(point.subarray(1, 1 + size)),
      y: b64url(point.subarray(1 + size)),
    },
  });
}

export function rsaPublicKeyFromParts(modulus: Buffer, publicExponent: Buffer): KeyObject {
  return createPublicKey({
    format: 'jwk',
    key: { kty: 'RSA', n: b64url(modulus), e: b64url(publicExponent) },
  });
}
