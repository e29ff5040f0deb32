// Test support: a root and an intermediate CA made by the real `openssl` CLI (an independent
// maker), loaded as meshca Issuers, plus a helper to run openssl and read its verdicts.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyFromPrivateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import type { Issuer } from '../../src/pki/types.js';

export type TestKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048';

/** `openssl req -newkey` arguments for a key type. */
export function newKeyArgs(type: TestKeyType): string[] {
  switch (type) {
    case 'ec-p256':
      return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    case 'ec-p384':
      return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'];
    case 'rsa-2048':
      return ['-newkey', 'rsa:2048'];
  }
}

export interface OpensslResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs openssl with `args` (in `cwd`), returning its status and output rather than throwing. */
export function openssl(args: string[], cwd?: string, input?: string | Buffer): OpensslResult {
  const result = spawnSync('openssl', args, { cwd, input, encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs openssl and throws with its stderr when it fails: for setup steps that must work. */
export function mustOpenssl(args: string[], cwd?: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface OpensslCa {
  /** A private temp directory holding root.pem, root-key.pem, intermediate.pem, intermediate-key.pem. */
  dir: string;
  rootPath: string;
  intermediatePath: string;
  root: Issuer;
  /** The intermediate: what the tests issue from. */
  intermediate: Issuer;
  /** Writes `pem` into the temp directory and returns its path. */
  write(name: string, content: string | Buffer): string;
  cleanup(): void;
}

/** The intermediate's extensions; with a root that has no SKI there is no key id to point at. */
function caExtensions(rootHasSki: boolean): string {
  return [
    '[v3_intermediate]',
    'basicConstraints = critical, CA:TRUE, pathlen:0',
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash',
    rootHasSki ? 'authorityKeyIdentifier = keyid:always' : 'authorityKeyIdentifier = issuer:always',
    '',
  ].join('\n');
}

function loadIssuer(dir: string, cert: string, key: string): Issuer {
  return {
    certificate: parseCertificate(readFileSync(join(dir, cert), 'utf8'), cert),
    key: keyFromPrivateKey(readPrivateKey(readFileSync(join(dir, key), 'utf8'), key)),
  };
}

/**
 * Root (`O=Istio, CN=Root CA`, 10 years) and intermediate (`O=Istio, CN=Intermediate CA,
 * L=cluster1`, `intermediateDays` days), both of `type`. `rootSubjectKeyId: false` leaves the
 * root without a subjectKeyIdentifier, to exercise the computed authorityKeyIdentifier.
 */
export function makeOpensslCa(
  type: TestKeyType,
  opts: { intermediateDays?: number; rootSubjectKeyId?: boolean } = {},
): OpensslCa {
  const dir = mkdtempSync(join(tmpdir(), 'meshca-ca-'));
  try {
    mustOpenssl(
      [
        'req',
        '-x509',
        ...newKeyArgs(type),
        '-nodes',
        '-keyout',
        'root-key.pem',
        '-out',
        'root.pem',
        '-days',
        '3650',
        '-subj',
        '/O=Istio/CN=Root CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        ...(opts.rootSubjectKeyId === false
          ? ['-addext', 'subjectKeyIdentifier=none', '-addext', 'authorityKeyIdentifier=none']
          : []),
      ],
      dir,
    );
    mustOpenssl(
      [
        'req',
        '-new',
        ...newKeyArgs(type),
        '-nodes',
        '-keyout',
        'intermediate-key.pem',
        '-out',
        'intermediate.csr',
        '-subj',
        '/O=Istio/CN=Intermediate CA/L=cluster1',
      ],
      dir,
    );
    writeFileSync(join(dir, 'ca.cnf'), caExtensions(opts.rootSubjectKeyId !== false));
    mustOpenssl(
      [
        'x509',
        '-req',
        '-in',
        'intermediate.csr',
        '-CA',
        'root.pem',
        '-CAkey',
        'root-key.pem',
        '-set_serial',
        '0x1001',
        '-days',
        String(opts.intermediateDays ?? 365),
        '-extfile',
        'ca.cnf',
        '-extensions',
        'v3_intermediate',
        '-out',
        'intermediate.pem',
      ],
      dir,
    );
    return {
      dir,
      rootPath: join(dir, 'root.pem'),
      intermediatePath: join(dir, 'intermediate.pem'),
      root: loadIssuer(dir, 'root.pem', 'root-key.pem'),
      intermediate: loadIssuer(dir, 'intermediate.pem', 'intermediate-key.pem'),
      write(name, content) {
        const path = join(dir, name);
        writeFileSync(path, content);
        return path;
      },
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `openssl verify -CAfile root -untrusted intermediate [-purpose p] leaf`: OpenSSL's verdict line and status. */
export function opensslVerify(
  ca: OpensslCa,
  leafPath: string,
  purpose?: 'sslclient' | 'sslserver',
): OpensslResult {
  return openssl([
    'verify',
    '-CAfile',
    ca.rootPath,
    '-untrusted',
    ca.intermediatePath,
    ...(purpose ? ['-purpose', purpose] : []),
    leafPath,
  ]);
}

/** `openssl x509 -noout -text` of a certificate file; throws when OpenSSL cannot read it. */
export function opensslText(certPath: string): string {
  return mustOpenssl(['x509', '-in', certPath, '-noout', '-text']);
}

/** `AA:BB:…`, the way OpenSSL prints key identifiers. */
export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().match(/../g)!.join(':');
}
