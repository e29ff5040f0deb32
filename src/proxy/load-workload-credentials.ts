// Reads the agent's output directory (Istio's file names) into TLS-ready material, refusing a set
// whose parts do not belong together, which is what a reader sees between the agent's renames.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, isMeshcaError, type MeshcaError, unavailable } from '../errors.js';
import { decodePem } from '../pki/pem.js';
import { peerSpiffeId, trustDomainOf } from './peer-identity.js';

/** Istio's names for the workload's files (istio-agent's `OUTPUT_CERTS`). */
export const CERT_CHAIN_FILE = 'cert-chain.pem';
export const KEY_FILE = 'key.pem';
export const ROOT_CERT_FILE = 'root-cert.pem';
export const WORKLOAD_FILES = [CERT_CHAIN_FILE, KEY_FILE, ROOT_CERT_FILE] as const;

/** One consistent set of workload credentials, ready for `tls.createSecureContext`. */
export interface WorkloadCredentials {
  /** Leaf first, then intermediates (and the root, as Istio's CA returns it). */
  readonly certChainPem: string;
  readonly keyPem: string;
  /** Every root this workload trusts; peers must chain to one of them. */
  readonly rootsPem: string;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly notAfter: Date;
  /** The leaf's serial in upper-case hex, for logs. */
  readonly serialHex: string;
}

function certificatesIn(pem: string, source: string): X509Certificate[] {
  const blocks = decodePem(pem, source).filter((block) => block.type === 'CERTIFICATE');
  if (blocks.length === 0) {
    throw configError('PROXY_CREDENTIALS_INVALID', `${source}: holds no CERTIFICATE block`);
  }
  try {
    return blocks.map((block) => new X509Certificate(block.der));
  } catch (err) {
    throw configError(
      'PROXY_CREDENTIALS_INVALID',
      `${source}: a certificate cannot be parsed (${(err as Error).message})`,
      err,
    );
  }
}

function readKey(pem: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // The agent writes the key before or after the chain; a torn read looks like a bad key.
    throw configError(
      'PROXY_CREDENTIALS_INVALID',
      `${source}: not a readable private key (${(err as Error).message})`,
      err,
    );
  }
}

/** True when the chain's top certificate is one of the roots or is signed by one of them. */
function chainReachesRoots(chain: X509Certificate[], roots: X509Certificate[]): boolean {
  const rootDers = roots.map((root) => root.raw);
  if (chain.some((cert) => rootDers.some((der) => der.equals(cert.raw)))) return true;
  const top = chain[chain.length - 1]!;
  return roots.some((root) => top.checkIssued(root) && top.verify(root.publicKey));
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw unavailable(
        'PROXY_CREDENTIALS_MISSING',
        `${path} does not exist yet; start the workload agent (it writes ${WORKLOAD_FILES.join(', ')}) or point the proxy at its output directory`,
        err,
      );
    }
    throw configError(
      'PROXY_CREDENTIALS_UNREADABLE',
      `${path}: cannot be read (${(err as Error).message})`,
      err,
    );
  }
}

/**
 * Loads and checks the three files in `dir`. Throws `PROXY_CREDENTIALS_MISSING` when a file is
 * absent, `PROXY_CREDENTIALS_INCONSISTENT` when the key is not the leaf's or the chain does not
 * reach the roots (a half-finished update), `PROXY_CREDENTIALS_INVALID` for anything malformed.
 */
export async function loadWorkloadCredentials(dir: string): Promise<WorkloadCredentials> {
  const reads = await Promise.allSettled(WORKLOAD_FILES.map((name) => readText(join(dir, name))));
  // Report in file order, not in the order the reads happened to fail, so the message is stable.
  const failed = reads.find((read) => read.status === 'rejected');
  if (failed) throw failed.reason;
  const [certChainPem, keyPem, rootsPem] = reads.map(
    (read) => (read as PromiseFulfilledResult<string>).value,
  );
  const chainSource = join(dir, CERT_CHAIN_FILE);
  let chain: X509Certificate[];
  let roots: X509Certificate[];
  try {
    chain = certificatesIn(certChainPem!, chainSource);
    roots = certificatesIn(rootsPem!, join(dir, ROOT_CERT_FILE));
  } catch (err) {
    if (isMeshcaError(err) && err.code.startsWith('PROXY_')) throw err;
    // decodePem's PKI_PEM_* errors: same meaning here, reported under this layer's code.
    throw configError('PROXY_CREDENTIALS_INVALID', (err as Error).message, err);
  }
  const leaf = chain[0]!;
  const key = readKey(keyPem!, join(dir, KEY_FILE));
  if (!leaf.checkPrivateKey(key)) {
    throw inconsistent(
      `${join(dir, KEY_FILE)} is not the private key of the first certificate in ${chainSource}`,
    );
  }
  if (!chainReachesRoots(chain, roots)) {
    throw inconsistent(`${chainSource} does not chain to any certificate in ${join(dir, ROOT_CERT_FILE)}`);
  }
  const spiffeId = peerSpiffeId(leaf);
  if (!spiffeId) {
    throw configError(
      'PROXY_CREDENTIALS_INVALID',
      `${chainSource}: the leaf certificate has no spiffe:// URI SAN (it has "${leaf.subjectAltName ?? 'none'}"); workload certificates must name a SPIFFE ID`,
    );
  }
  return Object.freeze({
    certChainPem: certChainPem!,
    keyPem: keyPem!,
    rootsPem: rootsPem!,
    spiffeId,
    trustDomain: trustDomainOf(spiffeId)!,
    notAfter: new Date(leaf.validTo),
    serialHex: leaf.serialNumber.toUpperCase(),
  });
}

function inconsistent(message: string): MeshcaError {
  return unavailable(
    'PROXY_CREDENTIALS_INCONSISTENT',
    `${message}; if the agent is rotating the files this clears by itself, otherwise rewrite all three files together`,
  );
}
