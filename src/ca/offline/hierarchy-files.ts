// File rules shared by every `meshca certs` operation: never overwrite a key without --force,
// write keys 0600 and everything atomically, and load a root (or intermediate) pair with checks
// that name the file and say what to do.
import { access, readFile } from 'node:fs/promises';
import { configError, isMeshcaError } from '../../errors.js';
import { keyMatchesCertificate } from '../../pki/key-matches-certificate.js';
import { describeKey, keyFromPrivateKey, readPrivateKey } from '../../pki/keys.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import type { CertificateInfo, Issuer } from '../../pki/types.js';

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

/** Loads a CA certificate and its key as an Issuer: they must parse, match, be a CA and not be expired. */
export async function loadIssuer(
  certPath: string,
  keyPath: string,
  hint: string,
  now = new Date(),
): Promise<Issuer & { all: CertificateInfo[] }> {
  const certText = await readText(certPath, 'CA certificate', hint);
  const keyText = await readText(keyPath, 'CA key', hint);
  let all: CertificateInfo[];
  let key: ReturnType<typeof readPrivateKey>;
  try {
    all = parseCertificates(certText, certPath);
    key = readPrivateKey(keyText, keyPath);
  } catch (err) {
    if (isMeshcaError(err)) throw configError('CERTS_BAD_FILE', err.message, err);
    throw err;
  }
  const cert = all[0]!;
  if (!keyMatchesCertificate(key, cert)) {
    throw configError(
      'CERTS_KEY_MISMATCH',
      `${keyPath} (${describeKey(key)}): key does not match certificate ${certPath} ("${cert.subject}", ${cert.keyDescription}); use the key made together with this certificate`,
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
  return { certificate: cert, key: keyFromPrivateKey(key), all };
}
