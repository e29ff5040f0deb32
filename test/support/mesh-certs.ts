// Test-time mesh certificates made by the `openssl` CLI (an independent implementation, so our
// code is judged by certificates it did not make): EC P-256 root → intermediate → SPIFFE leaves.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/lib/atomic-file.js';
import { opensslOk } from './openssl.js';
import { mintCommands } from './openssl-ca.js';

/** For test/kubernetes/meshca-in-kubernetes.test.ts, until it imports opensslOk from openssl.js itself. */
export { opensslOk as openssl } from './openssl.js';

/** A positive 64-bit serial whose hex form has no leading zero, so Node and OpenSSL print it alike. */
export function randomSerialHex(): string {
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex').toUpperCase();
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

export interface MeshCa {
  /** Names the hierarchy in subjects (`O=<name>`), to tell two unrelated CAs apart. */
  name: string;
  dir: string;
  rootCertPath: string;
  rootKeyPath: string;
  rootCertPem: string;
  caCertPath: string;
  caKeyPath: string;
  caCertPem: string;
}

async function newKey(path: string): Promise<void> {
  await opensslOk(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** A new P-256 key at `keyPath` and a certificate for it at `certPath`, signed by `ca` (cert, key). */
async function mintSigned(o: {
  keyPath: string;
  certPath: string;
  subj: string;
  ca: { certPath: string; keyPath: string };
  days: number;
  serialHex: string;
  extFile: string;
  extensions: string;
}): Promise<void> {
  await newKey(o.keyPath);
  const commands = mintCommands({
    key: o.keyPath,
    subj: o.subj,
    csr: `${o.certPath}.csr`,
    out: o.certPath,
    signer: ['-CA', o.ca.certPath, '-CAkey', o.ca.keyPath],
    serial: `0x${o.serialHex}`,
    days: o.days,
    extFile: o.extFile,
    extensions: o.extensions,
  });
  for (const args of commands) await opensslOk(args);
}

/** A root and one intermediate ("signing") CA in `dir` (made if missing), valid for two days. */
export async function createMeshCa(dir: string, opts: { name?: string } = {}): Promise<MeshCa> {
  const name = opts.name ?? 'meshca-test';
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, CONFIG);
  const rootKeyPath = join(dir, 'root-key.pem');
  const rootCertPath = join(dir, 'root-cert.pem');
  await newKey(rootKeyPath);
  await opensslOk([
    'req',
    '-x509',
    '-new',
    '-config',
    config,
    '-extensions',
    'v3_root',
    '-key',
    rootKeyPath,
    '-subj',
    `/O=${name}/CN=Root CA`,
    '-days',
    '2',
    '-sha256',
    '-set_serial',
    `0x${randomSerialHex()}`,
    '-out',
    rootCertPath,
  ]);
  const caKeyPath = join(dir, 'ca-key.pem');
  const caCertPath = join(dir, 'ca-cert.pem');
  await mintSigned({
    keyPath: caKeyPath,
    certPath: caCertPath,
    subj: `/O=${name}/CN=Intermediate CA`,
    ca: { certPath: rootCertPath, keyPath: rootKeyPath },
    days: 2,
    serialHex: randomSerialHex(),
    extFile: config,
    extensions: 'v3_intermediate',
  });
  return {
    name,
    dir,
    rootCertPath,
    rootKeyPath,
    rootCertPem: await readFile(rootCertPath, 'utf8'),
    caCertPath,
    caKeyPath,
    caCertPem: await readFile(caCertPath, 'utf8'),
  };
}

export interface WorkloadCert {
  spiffeId: string;
  /** Upper-case hex, as `getPeerCertificate().serialNumber` gives it. */
  serialHex: string;
  leafPem: string;
  keyPem: string;
  /** leaf, intermediate, root: what Istio's CA returns and the agent writes to cert-chain.pem. */
  certChainPem: string;
  rootCertPem: string;
  leafPath: string;
  keyPath: string;
  /** intermediate + root, for `openssl s_client -cert_chain`. */
  issuersPath: string;
  certChainPath: string;
}

/**
 * A workload leaf like Istio's: empty subject, critical URI SAN, serverAuth + clientAuth. `san`
 * replaces the SAN value (OpenSSL syntax, e.g. `DNS:example.com`) to make deliberately wrong leaves.
 */
export async function issueWorkloadCert(
  ca: MeshCa,
  opts: { spiffeId: string; serialHex?: string; san?: string },
): Promise<WorkloadCert> {
  const dir = await mkdtemp(join(ca.dir, 'leaf-'));
  const serialHex = opts.serialHex ?? randomSerialHex();
  const ext = join(dir, 'ext.cnf');
  await writeFile(
    ext,
    `[v3_workload]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = critical, ${opts.san ?? `URI:${opts.spiffeId}`}
authorityKeyIdentifier = keyid
`,
  );
  const keyPath = join(dir, 'key.pem');
  const leafPath = join(dir, 'leaf.pem');
  await mintSigned({
    keyPath,
    certPath: leafPath,
    subj: '/',
    ca: { certPath: ca.caCertPath, keyPath: ca.caKeyPath },
    days: 1,
    serialHex,
    extFile: ext,
    extensions: 'v3_workload',
  });
  const leafPem = await readFile(leafPath, 'utf8');
  const issuersPath = join(dir, 'issuers.pem');
  await writeFile(issuersPath, ca.caCertPem + ca.rootCertPem);
  const certChainPath = join(dir, 'cert-chain.pem');
  const certChainPem = leafPem + ca.caCertPem + ca.rootCertPem;
  await writeFile(certChainPath, certChainPem);
  return {
    spiffeId: opts.spiffeId,
    serialHex,
    leafPem,
    keyPem: await readFile(keyPath, 'utf8'),
    certChainPem,
    rootCertPem: ca.rootCertPem,
    leafPath,
    keyPath,
    issuersPath,
    certChainPath,
  };
}

export type WorkloadFileName = 'cert-chain.pem' | 'key.pem' | 'root-cert.pem';

/**
 * Writes the agent's output files into `dir` the way the agent does (temp file + rename, chain
 * first). `only` writes a subset, to leave a half-updated set behind.
 */
export async function writeWorkloadFiles(
  dir: string,
  cert: WorkloadCert,
  opts: { only?: WorkloadFileName[] } = {},
): Promise<void> {
  const files: Array<[WorkloadFileName, string, number]> = [
    ['cert-chain.pem', cert.certChainPem, 0o644],
    ['key.pem', cert.keyPem, 0o600],
    ['root-cert.pem', cert.rootCertPem, 0o644],
  ];
  for (const [name, content, mode] of files) {
    if (!opts.only || opts.only.includes(name)) await writeFileAtomic(join(dir, name), content, mode);
  }
}
