// File rules shared by every `meshca certs` operation: never overwrite a key without --force,
// write keys 0600 and everything atomically, and load a root (or intermediate) pair with checks
// that name the file and say what to do.
import { access, readFile } from 'node:fs/promises';
import { configError, isMeshcaError } from '../../errors.js';
import { keyMatchesCertificate } from '../../pki/key-matches-certificate.js';
import { describeKey, keyFromPrivateKey, readPrivateKey } from '../../pki/keys.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import type { CaKey, CertificateInfo, Issuer } from '../../pki/types.js';
import { checkTokenKeyType } from '../pkcs11/check-token-key-type.js';
import { openPkcs11CaKey, type TokenKeyRef } from '../pkcs11/pkcs11-ca-key.js';

export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Refuses to go on when any of `paths` exists and `force` is not set. */
export async function refuseOverwrite(paths: string[], force: boolean): Promise<void> {
  if (force) return;
  const present: string[] = [];
  for (const p of paths) if (await fileExists(p)) present.push(p);
  if (present.length > 0) {
    throw configError(
      'CERTS_WOULD_OVERWRITE',
      `${present.join(', ')} already exist${present.length === 1 ? 's' : ''}; meshca never overwrites keys or certificates silently: move ${present.length === 1 ? 'it' : 'them'} away, or pass --force to replace`,
    );
  }
}

async function readText(path: string, what: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw configError('CERTS_MISSING_FILE', `${what} ${path} does not exist; ${hint}`);
    }
    throw configError('CERTS_UNREADABLE', `cannot read ${what} ${path}: ${(err as Error).message}`, err);
  }
}

/** A key file's path, or a key in a PKCS#11 token. */
export type KeySource = string | TokenKeyRef;

/** The issuer's key as a CaKey, and what it is called in messages; `release` closes a token key. */
async function openKey(
  source: KeySource,
  cert: CertificateInfo,
  certPath: string,
  hint: string,
): Promise<{ key: CaKey; name: string; release(): Promise<void> }> {
  if (typeof source !== 'string') {
    const key = await openPkcs11CaKey(source);
    try {
      checkTokenKeyType(key, cert, certPath);
    } catch (err) {
      await key.close();
      throw err;
    }
    return { key, name: key.display, release: () => key.close() };
  }
  const keyText = await readText(source, 'CA key', hint);
  try {
    const key = keyFromPrivateKey(readPrivateKey(keyText, source));
    return { key, name: source, release: async () => {} };
  } catch (err) {
    if (isMeshcaError(err)) throw configError('CERTS_BAD_FILE', err.message, err);
    throw err;
  }
}

/**
 * Loads a CA certificate and its key as an Issuer: they must parse, match, be a CA and not be
 * expired. `release()` when done (it closes a key in a token).
 */
export async function loadIssuer(
  certPath: string,
  keySource: KeySource,
  hint: string,
  now = new Date(),
): Promise<Issuer & { all: CertificateInfo[]; release(): Promise<void> }> {
  const certText = await readText(certPath, 'CA certificate', hint);
  let all: CertificateInfo[];
  try {
    all = parseCertificates(certText, certPath);
  } catch (err) {
    if (isMeshcaError(err)) throw configError('CERTS_BAD_FILE', err.message, err);
    throw err;
  }
  const cert = all[0]!;
  const { key, name, release } = await openKey(keySource, cert, certPath, hint);
  try {
    checkIssuer(cert, key, name, certPath, now);
  } catch (err) {
    await release();
    throw err;
  }
  return { certificate: cert, key, all, release };
}

function checkIssuer(cert: CertificateInfo, key: CaKey, keyName: string, certPath: string, now: Date): void {
  if (!keyMatchesCertificate(key.publicKey, cert)) {
    throw configError(
      'CERTS_KEY_MISMATCH',
      `${keyName} (${describeKey(key.publicKey)}): key does not match certificate ${certPath} ("${cert.subject}", ${cert.keyDescription}); use the key made together with this certificate`,
    );
  }
  if (cert.isCa !== true) {
    throw configError(
      'CERTS_NOT_A_CA',
      `${certPath}: "${cert.subject}" is not a CA certificate (basicConstraints CA:TRUE missing), it cannot sign`,
    );
  }
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw configError(
      'CERTS_CA_EXPIRED',
      `${certPath}: "${cert.subject}" expired at ${cert.notAfter.toISOString()}; make a new one (meshca certs root-ca --force) before signing with it`,
    );
  }
}
