// Test support: certificates minted by the real `openssl` CLI (an independent maker): single
// certificates from a key file, and a root with an intermediate CA loaded as meshca Issuers.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintCommands } from '../../peers/harness/openssl-mint.js';
import { keyFromPrivateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import type { Issuer } from '../../src/pki/types.js';
import { type OpensslResult, openssl, opensslOk } from './openssl.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

export { mintCommands } from '../../peers/harness/openssl-mint.js';

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

/** `ec` = P-256; RSA sizes as given. Resolves with the key file's path. */
export async function opensslKey(
  dir: TempDir,
  name: string,
  type: 'ec' | 'ec-p384' | 'rsa-512' | 'rsa-2048' | 'rsa-4096' = 'ec',
): Promise<string> {
  const path = dir.file(`${name}.key`);
  const opts =
    type === 'ec'
      ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
      : type === 'ec-p384'
        ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']
        : ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${type.slice(4)}`];
  await opensslOk(['genpkey', ...opts, '-out', path]);
  return path;
}

export interface OpensslCertOptions {
  /** OpenSSL `-subj` form, e.g. `/O=Istio/CN=Root CA`; `/` for an empty subject. */
  subj: string;
  /** Path of the subject's private key (see opensslKey). */
  key: string;
  /** Lines of an x509v3 extension section, e.g. `basicConstraints=critical,CA:TRUE`. */
  ext?: string[];
  days?: number;
  /** Signature digest (`sha256` by default; `sha1` for weak-signature tests). */
  digest?: string;
}

let certCount = 0;

async function signWithOpenssl(
  dir: TempDir,
  o: OpensslCertOptions,
  signer: string[],
  serial?: string,
): Promise<string> {
  const n = ++certCount;
  const out = dir.file(`mint-${n}.pem`);
  const commands = mintCommands({
    key: o.key,
    subj: o.subj,
    csr: dir.file(`mint-${n}.csr`),
    out,
    signer,
    serial,
    days: o.days ?? 30,
    digest: o.digest,
    extFile: o.ext && o.ext.length > 0 ? dir.write(`mint-${n}.ext`, `${o.ext.join('\n')}\n`) : undefined,
  });
  for (const args of commands) await opensslOk(args);
  return readFileSync(out, 'utf8');
}

/** A self-signed certificate made as Istio's Makefile makes roots (`openssl x509 -req -signkey`); PEM. */
export function opensslSelfSigned(dir: TempDir, o: OpensslCertOptions): Promise<string> {
  return signWithOpenssl(dir, o, ['-signkey', o.key]);
}

/** A certificate for `o.key` signed by the CA in `caCert` (PEM path) with `caKey`; PEM. */
export function opensslIssue(
  dir: TempDir,
  o: OpensslCertOptions & { caCert: string; caKey: string },
): Promise<string> {
  return signWithOpenssl(dir, o, ['-CA', o.caCert, '-CAkey', o.caKey], String(Date.now() * 1000 + certCount));
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
  /** `openssl verify -CAfile root -untrusted intermediate [-purpose p] leaf`: OpenSSL's verdict line and status. */
  verify(leafPath: string, purpose?: 'sslclient' | 'sslserver'): Promise<OpensslResult>;
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
export async function makeOpensslCa(
  type: TestKeyType,
  opts: { intermediateDays?: number; rootSubjectKeyId?: boolean } = {},
): Promise<OpensslCa> {
  const tmp = makeTempDir('meshca-ca-');
  const dir = tmp.path;
  try {
    await opensslOk(
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
      { cwd: dir },
    );
    await opensslOk(
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
      { cwd: dir },
    );
    writeFileSync(join(dir, 'ca.cnf'), caExtensions(opts.rootSubjectKeyId !== false));
    await opensslOk(
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
      { cwd: dir },
    );
    const rootPath = join(dir, 'root.pem');
    const intermediatePath = join(dir, 'intermediate.pem');
    return {
      dir,
      rootPath,
      intermediatePath,
      root: loadIssuer(dir, 'root.pem', 'root-key.pem'),
      intermediate: loadIssuer(dir, 'intermediate.pem', 'intermediate-key.pem'),
      write: tmp.write,
      verify: (leafPath, purpose) =>
        openssl([
          'verify',
          '-CAfile',
          rootPath,
          '-untrusted',
          intermediatePath,
          ...(purpose ? ['-purpose', purpose] : []),
          leafPath,
        ]),
      cleanup: tmp.remove,
    };
  } catch (err) {
    tmp.remove();
    throw err;
  }
}
