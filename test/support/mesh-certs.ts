// Test-time mesh certificates made by the `openssl` CLI (an independent implementation, so our
// code is judged by certificates it did not make): EC P-256 root → intermediate → SPIFFE leaves.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../src/lib/atomic-file.js';

const execFileAsync = promisify(execFile);

export async function openssl(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const { stdout } = await execFileAsync('openssl', args, { cwd: opts.cwd, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `meshca-${prefix}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

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
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** A root and one intermediate ("signing") CA in `dir`, valid for two days. */
export async function createMeshCa(dir: string, opts: { name?: string } = {}): Promise<MeshCa> {
  const name = opts.name ?? 'meshca-test';
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, CONFIG);
  const rootKeyPath = join(dir, 'root-key.pem');
  const rootCertPath = join(dir, 'root-cert.pem');
  await newKey(rootKeyPath);
  await openssl([
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
  const csrPath = join(dir, 'ca.csr');
  await newKey(caKeyPath);
  await openssl([
    'req',
    '-new',
    '-config',
    config,
    '-key',
    caKeyPath,
    '-subj',
    `/O=${name}/CN=Intermediate CA`,
    '-out',
    csrPath,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    rootCertPath,
    '-CAkey',
    rootKeyPath,
    '-days',
    '2',
    '-sha256',
    '-set_serial',
    `0x${randomSerialHex()}`,
    '-extfile',
    config,
    '-extensions',
    'v3_intermediate',
    '-out',
    caCertPath,
  ]);
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
  const csrPath = join(dir, 'leaf.csr');
  const leafPath = join(dir, 'leaf.pem');
  await newKey(keyPath);
  await openssl([
    'req',
    '-new',
    '-config',
    join(ca.dir, 'openssl.cnf'),
    '-key',
    keyPath,
    '-subj',
    '/',
    '-out',
    csrPath,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    ca.caCertPath,
    '-CAkey',
    ca.caKeyPath,
    '-days',
    '1',
    '-sha256',
    '-set_serial',
    `0x${serialHex}`,
    '-extfile',
    ext,
    '-extensions',
    'v3_workload',
    '-out',
    leafPath,
  ]);
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
