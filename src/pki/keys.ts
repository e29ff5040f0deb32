// Private keys: generating the key types meshca supports, reading the PEM forms operators have
// (PKCS#1, PKCS#8, SEC1), writing PKCS#8, and wrapping a key as a CaKey that only signs.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { invalidInput } from '../errors.js';
import { decodePem, encodePem } from './pem.js';
import { type CaKey, KEY_TYPES, type KeyType } from './types.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const PRIVATE_KEY_FORMATS: Record<string, 'pkcs1' | 'pkcs8' | 'sec1'> = {
  'RSA PRIVATE KEY': 'pkcs1',
  'PRIVATE KEY': 'pkcs8',
  'EC PRIVATE KEY': 'sec1',
};

export function parseKeyType(value: string, source = '--key-type'): KeyType {
  const normal = value.trim().toLowerCase();
  if ((KEY_TYPES as readonly string[]).includes(normal)) return normal as KeyType;
  throw invalidInput(
    'PKI_KEY_TYPE_UNKNOWN',
    `${source}: unknown key type "${value}"; use one of ${KEY_TYPES.join(', ')}`,
  );
}

/** A fresh private key. Async because RSA 4096 takes around a second of CPU. */
export async function generateKey(type: KeyType): Promise<KeyObject> {
  switch (type) {
    case 'ec-p256':
    case 'ec-p384': {
      const namedCurve = type === 'ec-p256' ? 'prime256v1' : 'secp384r1';
      return (await generateKeyPairAsync('ec', { namedCurve })).privateKey;
    }
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096': {
      const modulusLength = Number(type.slice(4));
      return (await generateKeyPairAsync('rsa', { modulusLength, publicExponent: 0x10001 })).privateKey;
    }
  }
}

/** Reads the first PEM block of `pem` as a private key; any block type but the three key forms is refused by name. */
export function readPrivateKey(pem: string, source = 'key'): KeyObject {
  const [block] = decodePem(pem, source);
  const format = block && PRIVATE_KEY_FORMATS[block.type];
  if (!block || !format) {
    throw invalidInput(
      'PKI_KEY_UNSUPPORTED',
      `${source}: a "${block?.type}" block is not a private key meshca can read; expected "RSA PRIVATE KEY" (PKCS#1), "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC1)`,
    );
  }
  try {
    return createPrivateKey({ key: block.der, format: 'der', type: format });
  } catch (err) {
    throw invalidInput(
      'PKI_KEY_MALFORMED',
      `${source}: the "${block.type}" block does not hold a valid key (${(err as Error).message})`,
      err,
    );
  }
}

/** PKCS#8 PEM (`PRIVATE KEY`), the form OpenSSL 3 writes. */
export function encodePrivateKeyPem(key: KeyObject): string {
  return encodePem('PRIVATE KEY', key.export({ format: 'der', type: 'pkcs8' }));
}

export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** `EC P-256`, `EC P-384`, `RSA 2048`, `Ed25519`, … for messages and `inspect`. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = details.namedCurve;
      const name =
        curve === 'prime256v1'
          ? 'P-256'
          : curve === 'secp384r1'
            ? 'P-384'
            : curve === 'secp521r1'
              ? 'P-521'
              : curve;
      return `EC ${name}`;
    }
    case 'rsa':
      return `RSA ${details.modulusLength}`;
    case 'ed25519':
      return 'Ed25519';
    default:
      return String(key.asymmetricKeyType);
  }
}

/** The digest meshca signs with for a CA key: SHA-384 for P-384, SHA-256 otherwise. */
export function digestFor(key: KeyObject): 'sha256' | 'sha384' {
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
}

/** A CaKey as it is, or a private KeyObject wrapped as one: what code that signs accepts. */
export function asCaKey(key: KeyObject | CaKey): CaKey {
  return 'asymmetricKeyType' in key ? keyFromPrivateKey(key as KeyObject) : (key as CaKey);
}

/** Wraps a private key as a CaKey: callers get signatures, never the key. */
export function keyFromPrivateKey(privateKey: KeyObject): CaKey {
  const publicKey = publicKeyOf(privateKey);
  const digest = digestFor(privateKey);
  // DER-encoded ECDSA signatures are what X.509 carries; RSA is PKCS#1 v1.5. Signed in line and
  // handed back settled: node's callback form hops to the threadpool and back for every signature,
  // which the bench's in-process figure (bench/micro.ts) measured as more CPU per certificate.
  return {
    publicKey,
    sign: async (data) => sign(digest, data, privateKey),
  };
}
