// Reads a CA directory in either layout operators have: Istio's cacerts (ca-cert.pem, ca-key.pem,
// root-cert.pem, cert-chain.pem) or a kubernetes.io/tls secret (tls.crt, tls.key, ca.crt).
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, isMeshcaError } from '../errors.js';
import { readPrivateKey } from '../pki/keys.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { decodePemAllowEmpty } from '../pki/pem.js';
import type { CertificateInfo } from '../pki/types.js';
import { checkTokenKeyType } from './pkcs11/check-token-key-type.js';
import type { Pkcs11CaKey } from './pkcs11/pkcs11-ca-key.js';
import {
  type BundleParts,
  type BundleSource,
  buildSigningBundle,
  type SigningBundle,
} from './signing-bundle.js';

export const ISTIO_FILES = {
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  roots: 'root-cert.pem',
};
export const TLS_FILES = { cert: 'tls.crt', key: 'tls.key', chain: 'tls.crt', roots: 'ca.crt' };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Which layout `dir` holds; tls.crt wins when present, as the issue of Kubernetes secrets demands. */
export async function detectLayout(dir: string): Promise<'istio' | 'tls'> {
  return (await exists(join(dir, 'tls.crt'))) ? 'tls' : 'istio';
}

function parseCerts(text: string, path: string, allowEmpty: boolean): CertificateInfo[] {
  try {
    if (allowEmpty && decodePemAllowEmpty(text, path).length === 0) return [];
    return parseCertificates(text, path);
  } catch (err) {
    if (isMeshcaError(err)) {
      throw configError('CA_BUNDLE_INVALID', `${err.message}; replace ${path} with PEM certificates`, err);
    }
    throw err;
  }
}

/** Reads and verifies the bundle in `dir`; throws a `config` error naming each missing or bad file. */
export async function loadBundleFromDir(
  dir: string,
  opts: { now?: Date; source?: BundleSource; key?: Pkcs11CaKey } = {},
): Promise<SigningBundle> {
  const layout = await detectLayout(dir);
  const files = layout === 'tls' ? TLS_FILES : ISTIO_FILES;
  const texts: Record<string, string> = {};
  for (const name of new Set(Object.values(files))) {
    if (opts.key && name === files.key) continue; // the key is in a token; a stray key file is not read
    if (await exists(join(dir, name))) texts[name] = await readFile(join(dir, name), 'utf8');
  }
  return bundleFromTexts(texts, { ...opts, where: dir, what: `CA bundle in ${dir}` });
}

/** Which layout a set of named texts (files of a directory, keys of a Secret) holds; tls.crt wins. */
export function layoutOf(texts: Readonly<Record<string, string | undefined>>): 'istio' | 'tls' {
  return texts[TLS_FILES.cert] !== undefined ? 'tls' : 'istio';
}

/**
 * Verifies a bundle given as named texts: a directory's files or a Kubernetes Secret's keys.
 * `where` prefixes each name in messages (a directory, or "Secret istio-system/cacerts").
 * With `key` (a key in a PKCS#11 token) the key file is neither needed nor read.
 */
export function bundleFromTexts(
  texts: Readonly<Record<string, string | undefined>>,
  opts: { where: string; what: string; now?: Date; source?: BundleSource; key?: Pkcs11CaKey },
): SigningBundle {
  const { where: dir } = opts;
  const layout = layoutOf(texts);
  const fileNames = layout === 'tls' ? TLS_FILES : ISTIO_FILES;
  const files = opts.key ? { ...fileNames, key: opts.key.display } : fileNames;
  const names = [...new Set(Object.values(files))].filter((name) => name !== opts.key?.display);
  const missing = names.filter((name) => texts[name] === undefined);
  // cert-manager's CA secrets often carry no ca.crt when tls.crt is itself the root.
  const noCaCrt = layout === 'tls' && missing.length === 1 && missing[0] === TLS_FILES.roots;
  if (noCaCrt) missing.length = 0;
  if (missing.length > 0) {
    const all = names.join(', ');
    throw configError(
      'CA_BUNDLE_INCOMPLETE',
      `${opts.what} is incomplete: missing ${missing.join(', ')}; a ${layout === 'tls' ? 'kubernetes.io/tls' : 'cacerts'} bundle needs ${all}`,
    );
  }
  const certText = texts[files.cert] ?? '';
  const keyText = texts[files.key] ?? '';
  const chainText = texts[files.chain] ?? '';
  const rootsText = noCaCrt ? '' : (texts[files.roots] ?? '');
  const certPath = join(dir, files.cert);
  const certs = parseCerts(certText, certPath, false);
  const signingCert = certs[0]!;
  let key: BundleParts['key'];
  if (opts.key) {
    checkTokenKeyType(opts.key, signingCert, certPath);
    key = opts.key;
  } else {
    try {
      key = readPrivateKey(keyText, join(dir, files.key));
    } catch (err) {
      if (isMeshcaError(err)) throw configError('CA_BUNDLE_INVALID', err.message, err);
      throw err;
    }
  }
  let chainCandidates =
    layout === 'tls' ? certs.slice(1) : parseCerts(chainText, join(dir, files.chain), true);
  let roots = noCaCrt
    ? certs.filter((c) => c.selfSigned)
    : parseCerts(rootsText, join(dir, files.roots), false);
  if (noCaCrt && roots.length === 0) {
    throw configError(
      'CA_BUNDLE_INCOMPLETE',
      `${opts.what} is incomplete: missing ca.crt, and tls.crt holds no root; add the root certificate as ca.crt`,
    );
  }
  if (layout === 'tls' && roots.some((r) => r.selfSigned)) {
    // cert-manager may put intermediates into ca.crt beside the root: those extend the chain.
    chainCandidates = [...chainCandidates, ...roots.filter((r) => !r.selfSigned)];
    roots = roots.filter((r) => r.selfSigned);
  }
  return buildSigningBundle({
    signingCert,
    key,
    chainCandidates,
    roots,
    source: opts.source ?? (layout === 'tls' ? 'plugged-tls' : 'plugged-istio'),
    dir,
    files,
    now: opts.now,
  });
}
