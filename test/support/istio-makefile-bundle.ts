// Test support: a root and one cluster's intermediate made by the `openssl` CLI exactly as Istio's
// tools/certs/Makefile.selfsigned.mk (+ common.mk) makes them, so meshca is judged on files it did
// not write. Made fresh on every call (nothing cached): RSA 4096 keys, as the Makefile uses.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslOk } from './openssl.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

/**
 * common.mk's root-ca.conf and %/intermediate.conf, with the Makefile's default variables: they
 * differ only in the intermediate's path length, its istiod SAN and its `L` (the cluster's name).
 */
function caConf(keyBits: number, cluster?: string): string {
  return [
    '[ req ]',
    'encrypt_key = no',
    'prompt = no',
    'utf8 = yes',
    'default_md = sha256',
    `default_bits = ${keyBits}`,
    'req_extensions = req_ext',
    'x509_extensions = req_ext',
    'distinguished_name = req_dn',
    '[ req_ext ]',
    'subjectKeyIdentifier = hash',
    cluster ? 'basicConstraints = critical, CA:true, pathlen:0' : 'basicConstraints = critical, CA:true',
    'keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign',
    ...(cluster ? ['subjectAltName=@san', '[ san ]', 'DNS.1 = istiod.istio-system.svc'] : []),
    '[ req_dn ]',
    'O = Istio',
    ...(cluster ? ['CN = Intermediate CA', `L = ${cluster}`] : ['CN = Root CA']),
    '',
  ].join('\n');
}

export interface IstioMakefileBundle {
  /** Where `make root-ca` ran: root-cert.pem, root-key.pem, root-ca.conf, root-cert.csr. */
  dir: TempDir;
  rootCert: string;
  rootKey: string;
  /** `<dir>/<cluster>`: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem — Istio's cacerts secret. */
  clusterDir: string;
  remove(): void;
}

/**
 * `make -f Makefile.selfsigned.mk root-ca <cluster>-cacerts`, step by step with the Makefile's own
 * openssl commands. The Makefile concatenates ca-cert.pem and root-cert.pem into the chain file;
 * here it is written under the name the cacerts secret (and meshca) reads, cert-chain.pem.
 */
export async function makeIstioMakefileBundle(
  opts: { cluster?: string; keyBits?: number } = {},
): Promise<IstioMakefileBundle> {
  const cluster = opts.cluster ?? 'cluster1';
  const keyBits = opts.keyBits ?? 4096;
  const dir = makeTempDir('meshca-istio-make-');
  try {
    const cwd = dir.path;
    // root-ca: root-key.pem, root-cert.csr, root-cert.pem
    dir.write('root-ca.conf', caConf(keyBits));
    await opensslOk(['genrsa', '-out', 'root-key.pem', String(keyBits)], { cwd });
    await opensslOk(
      ['req', '-new', '-key', 'root-key.pem', '-config', 'root-ca.conf', '-out', 'root-cert.csr'],
      {
        cwd,
      },
    );
    await opensslOk(
      [
        'x509',
        '-req',
        '-days',
        '3650',
        '-signkey',
        'root-key.pem',
        '-extensions',
        'req_ext',
        '-extfile',
        'root-ca.conf',
        '-in',
        'root-cert.csr',
        '-out',
        'root-cert.pem',
      ],
      { cwd },
    );
    // <cluster>-cacerts: <cluster>/ca-key.pem, cluster-ca.csr, ca-cert.pem, the chain, root-cert.pem
    const clusterDir = join(cwd, cluster);
    mkdirSync(clusterDir);
    writeFileSync(join(clusterDir, 'intermediate.conf'), caConf(keyBits, cluster));
    await opensslOk(['genrsa', '-out', `${cluster}/ca-key.pem`, String(keyBits)], { cwd });
    await opensslOk(
      [
        'req',
        '-new',
        '-config',
        `${cluster}/intermediate.conf`,
        '-key',
        `${cluster}/ca-key.pem`,
        '-out',
        `${cluster}/cluster-ca.csr`,
      ],
      { cwd },
    );
    await opensslOk(
      [
        'x509',
        '-req',
        '-days',
        '730',
        '-CA',
        'root-cert.pem',
        '-CAkey',
        'root-key.pem',
        '-CAcreateserial',
        '-extensions',
        'req_ext',
        '-extfile',
        `${cluster}/intermediate.conf`,
        '-in',
        `${cluster}/cluster-ca.csr`,
        '-out',
        `${cluster}/ca-cert.pem`,
      ],
      { cwd },
    );
    const rootPem = readFileSync(join(cwd, 'root-cert.pem'), 'utf8');
    const caPem = readFileSync(join(clusterDir, 'ca-cert.pem'), 'utf8');
    writeFileSync(join(clusterDir, 'cert-chain.pem'), caPem + rootPem);
    writeFileSync(join(clusterDir, 'root-cert.pem'), rootPem);
    return {
      dir,
      rootCert: dir.file('root-cert.pem'),
      rootKey: dir.file('root-key.pem'),
      clusterDir,
      remove: () => dir.remove(),
    };
  } catch (err) {
    dir.remove();
    throw err;
  }
}
