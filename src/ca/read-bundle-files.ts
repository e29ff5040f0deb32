// Reads a CA directory in either layout operators have: Istio's cacerts (ca-cert.pem, ca-key.pem,
// root-cert.pem, cert-chain.pem) or a kubernetes.io/tls secret (tls.crt, tls.key, ca.crt).
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, isMeshcaError } from '../errors.js';
import { readPrivateKey } from '../pki/keys.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { decodePemAllowEmpty } from '../pki/pem.js';
import type { CertificateInfo } from '../pki/types.js';
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
  opts: { now?: Date; source?: BundleSource } = {},
): Promise<SigningBundle> {
  const layout = await detectLayout(dir);
  const files = layout === 'tls' ? TLS_FILES : ISTIO_FILES;
  const names = [...new Set(Object.values(files))];
  const missing: string[] = [];
  for (const name of names) if (!(await exists(join(dir, name)))) missing.push(name);
  // cert-manager's CA secrets often carry no ca.crt when tls.crt is itself the root.
  const noCaCrt = layout === 'tls' && missing.length === 1 && missing[0] === TLS_FILES.roots;
  if (noCaCrt) missing.length = 0;
  if (missing.length > 0) {
    const all = names.join(', ');
    throw configError(
      'CA_BUNDLE_INCOMPLETE',
      `CA bundle in ${dir} is incomplete: missing ${missing.join(', ')}; a ${layout === 'tls' ? 'kubernetes.io/tls' : 'cacerts'} bundle needs ${all}`,
    );
  }
  const read = (name: string) => readFile(join(dir, name), 'utf8');
  const [certText, keyText, chainText, rootsText] = await Promise.all([
    read(files.cert),
    read(files.key),
    read(files.chain),
    noCaCrt ? Promise.resolve('') : read(files.roots),
  ]);
  const certPath = join(dir, files.cert);
  const certs = parseCerts(certText, certPath, false);
  const signingCert = certs[0]!;
  let key: BundleParts['key'];
  try {
    key = readPrivateKey(keyText, join(dir, files.key));
  } catch (err) {
    if (isMeshcaError(err)) throw configError('CA_BUNDLE_INVALID', err.message, err);
    throw err;
  }
  let chainCandidates =
    layout === 'tls' ? certs.slice(1) : parseCerts(chainText, join(dir, files.chain), true);
  let roots = noCaCrt
    ? certs.filter((c) => c.selfSigned)
    : parseCerts(rootsText, join(dir, files.roots), false);
  if (noCaCrt && roots.length === 0) {
    throw configError(
      'CA_BUNDLE_INCOMPLETE',
      `CA bundle in ${dir} is incomplete: missing ca.crt, and tls.crt holds no root; add the root certificate as ca.crt`,
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
