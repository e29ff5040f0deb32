// The issuance log's own signing key (Ed25519), made on first start in the log directory. It signs
// checkpoints only; it is not the CA key, so a log key that leaks cannot issue certificates.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError } from '../../errors.js';
import { createFileExclusive, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE } from '../../lib/atomic-file.js';

export const LOG_KEY_FILE = 'log-key.pem';
export const LOG_PUBLIC_KEY_FILE = 'log-key.pub.pem';

export interface LogKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SHA-256 (hex) of the public key's SubjectPublicKeyInfo DER: names the key in checkpoints. */
  keyId: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Reads the log key of `dir`, making it first if there is none (two racing starts agree on one). */
export async function openLogKey(dir: string): Promise<LogKey> {
  const path = join(dir, LOG_KEY_FILE);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  if (await createFileExclusive(path, pem, PRIVATE_FILE_MODE)) {
    const publicKey = createPublicKey(privateKey);
    await createFileExclusive(
      join(dir, LOG_PUBLIC_KEY_FILE),
      publicKey.export({ type: 'spki', format: 'pem' }) as string,
      PUBLIC_FILE_MODE,
    );
    return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(path, 'utf8'));
  } catch (err) {
    throw configError(
      'LOG_KEY_UNUSABLE',
      `the issuance log key ${path} cannot be read as a PEM private key (${(err as Error).message}); restore it from a backup, or move the log directory aside to start a new log`,
      err,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw configError(
      'LOG_KEY_UNUSABLE',
      `the issuance log key ${path} is ${key.asymmetricKeyType}, not Ed25519; restore the log's own key`,
    );
  const publicKey = createPublicKey(key);
  return { privateKey: key, publicKey, keyId: keyIdOf(publicKey) };
}

/** The log's public key, for verifying: log-key.pub.pem. */
export async function readLogPublicKey(dir: string): Promise<KeyObject> {
  const path = join(dir, LOG_PUBLIC_KEY_FILE);
  try {
    return createPublicKey(await readFile(path, 'utf8'));
  } catch (err) {
    throw configError(
      'LOG_KEY_UNUSABLE',
      `the issuance log's public key ${path} cannot be read (${(err as Error).message}); is ${dir} an issuance log directory?`,
      err,
    );
  }
}
