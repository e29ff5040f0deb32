// Istio's Makefile variables for `meshca certs`, given the three ways make takes them (environment,
// VAR=value on the command line) plus as flags; a flag beats VAR=value, which beats the environment.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const DAY_MS = 86_400_000;

interface Facts {
  subject: string;
  days: number;
  text: string;
}

/** Subject (openssl's one-line form), lifetime in whole days from notBefore, and the -text dump. */
async function facts(path: string): Promise<Facts> {
  const out = await opensslOk(['x509', '-in', path, '-noout', '-subject', '-startdate', '-enddate']);
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)![1]!;
  const span = new Date(field('notAfter')).getTime() - new Date(field('notBefore')).getTime();
  return {
    subject: field('subject'),
    days: Math.round(span / DAY_MS),
    text: await opensslOk(['x509', '-in', path, '-noout', '-text']),
  };
}

describe('meshca certs: Makefile variables', () => {
  let tmp: TempDir;
  let n = 0;
  /** A fresh directory per case. */
  const fresh = () => {
    const dir = join(tmp.path, `case-${++n}`);
    return { dir, file: (f: string) => join(dir, f) };
  };
  before(() => {
    tmp = makeTempDir('meshca-vars-');
  });
  after(() => tmp?.remove());

  it('ROOTCA_DAYS, ROOTCA_ORG, ROOTCA_CN as environment variables', async () => {
    const c = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', c.dir], {
      env: { ROOTCA_DAYS: '100', ROOTCA_ORG: 'Acme', ROOTCA_CN: 'Acme Root' },
    });
    const f = await facts(c.file('root-cert.pem'));
    assert.equal(f.subject, 'O = Acme, CN = Acme Root');
    assert.equal(f.days, 100);
    // The config's reproduce line follows the lifetime too.
    assert.match(
      readFileSync(c.file('root-ca.conf'), 'utf8'),
      /openssl x509 -req -days 100 -signkey root-key\.pem/,
    );
    assert.match(readFileSync(c.file('root-ca.conf'), 'utf8'), /\n\[ req_dn \]\nO = Acme\nCN = Acme Root\n/);
  });

  it('the same as flags: --rootca-days 100 --rootca-org … --rootca-cn …', async () => {
    const c = fresh();
    await runMeshcaOk([
      'certs',
      'root-ca',
      '-d',
      c.dir,
      '--rootca-days',
      '100',
      '--rootca-org',
      'Flag Org',
      '--rootca-cn',
      'Flag Root',
    ]);
    const f = await facts(c.file('root-cert.pem'));
    assert.equal(f.subject, 'O = Flag Org, CN = Flag Root');
    assert.equal(f.days, 100);
  });

  it('the same as make-style VAR=value arguments', async () => {
    const c = fresh();
    await runMeshcaOk([
      'certs',
      'root-ca',
      'ROOTCA_DAYS=100',
      'ROOTCA_ORG=Pos Org',
      'ROOTCA_CN=Pos Root',
      '-d',
      c.dir,
    ]);
    const f = await facts(c.file('root-cert.pem'));
    assert.equal(f.subject, 'O = Pos Org, CN = Pos Root');
    assert.equal(f.days, 100);
  });

  it('a flag beats VAR=value, which beats the environment', async () => {
    const env = { ROOTCA_DAYS: '5', ROOTCA_ORG: 'Env Org', ROOTCA_CN: 'Env Root' };
    const flagWins = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', flagWins.dir, 'ROOTCA_DAYS=6', '--rootca-days', '7'], {
      env,
    });
    assert.equal((await facts(flagWins.file('root-cert.pem'))).days, 7);
    const argWins = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', argWins.dir, 'ROOTCA_DAYS=6', 'ROOTCA_CN=Arg Root'], {
      env,
    });
    const f = await facts(argWins.file('root-cert.pem'));
    assert.equal(f.days, 6);
    assert.equal(f.subject, 'O = Env Org, CN = Arg Root');
  });

  it('ROOTCA_KEYSZ=2048 makes an RSA 2048 root (sha256WithRSAEncryption)', async () => {
    const c = fresh();
    const r = await runMeshcaOk(['certs', 'root-ca', '-d', c.dir], { env: { ROOTCA_KEYSZ: '2048' } });
    assert.match(r.stdout, /^root CA "O=Istio, CN=Root CA" \(RSA 2048, until /);
    const text = (await facts(c.file('root-cert.pem'))).text;
    assert.match(text, /Public Key Algorithm: rsaEncryption\n\s+Public-Key: \(2048 bit\)/);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(
      await opensslOk(['pkey', '-in', c.file('root-key.pem'), '-noout', '-text']),
      /Private-Key: \(2048 bit, 2 primes\)/,
    );
    assert.match(readFileSync(c.file('root-ca.conf'), 'utf8'), /\ndefault_bits = 2048\n/);
  });

  it('--key-type beats ROOTCA_KEYSZ, and ec-p384 signs with SHA-384', async () => {
    const c = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', c.dir, '--key-type', 'ec-p384'], {
      env: { ROOTCA_KEYSZ: '2048' },
    });
    const text = (await facts(c.file('root-cert.pem'))).text;
    assert.match(text, /NIST CURVE: P-384/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
  });

  it('INTERMEDIATE_DAYS, _KEYSZ, _ORG, _CN, _SAN_DNS shape the intermediate', async () => {
    const c = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', c.dir]);
    await runMeshcaOk(
      [
        'certs',
        'intermediate',
        'c1',
        '-d',
        c.dir,
        'INTERMEDIATE_CN=Acme Intermediate',
        '--intermediate-days',
        '30',
      ],
      {
        env: {
          INTERMEDIATE_KEYSZ: '2048',
          INTERMEDIATE_ORG: 'Acme',
          INTERMEDIATE_SAN_DNS: 'istiod.acme-system.svc,ca.acme.test',
        },
      },
    );
    const f = await facts(c.file('c1/ca-cert.pem'));
    assert.equal(f.subject, 'O = Acme, CN = Acme Intermediate, L = c1');
    assert.equal(f.days, 30);
    assert.match(f.text, /Public-Key: \(2048 bit\)/);
    // Signed by the EC root: the RSA key size is the intermediate's own.
    assert.match(f.text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(
      f.text,
      /X509v3 Subject Alternative Name: \n\s+DNS:istiod\.acme-system\.svc, DNS:ca\.acme\.test\n/,
    );
    assert.match(
      readFileSync(c.file('c1/intermediate.conf'), 'utf8'),
      /\nDNS\.1 = istiod\.acme-system\.svc\nDNS\.2 = ca\.acme\.test\n/,
    );
  });

  it('--key-type rsa-2048 makes an RSA intermediate under an EC root', async () => {
    const c = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', c.dir]);
    const r = await runMeshcaOk(['certs', 'intermediate', 'c2', '-d', c.dir, '--key-type', 'rsa-2048']);
    assert.match(r.stdout, /\(RSA 2048\), signed by /);
    assert.match((await facts(c.file('c2/ca-cert.pem'))).text, /rsaEncryption\n\s+Public-Key: \(2048 bit\)/);
    assert.match((await facts(c.file('root-cert.pem'))).text, /NIST CURVE: P-256/);
  });

  it('WORKLOAD_DAYS, SERVICE_ACCOUNT and TRUST_DOMAIN shape the workload certificate', async () => {
    const c = fresh();
    await runMeshcaOk(['certs', 'root-ca', '-d', c.dir]);
    const r = await runMeshcaOk(
      ['certs', 'ns1-certs', '-d', c.dir, 'WORKLOAD_DAYS=3', '--trust-domain', 'example.org'],
      {
        env: { SERVICE_ACCOUNT: 'reviews' },
      },
    );
    assert.match(r.stdout, /^workload certificate for spiffe:\/\/example\.org\/ns\/ns1\/sa\/reviews:\n/);
    const f = await facts(c.file('ns1/workload-cert.pem'));
    assert.equal(f.days, 3);
    assert.match(
      f.text,
      /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/example\.org\/ns\/ns1\/sa\/reviews\n/,
    );
  });

  it('reports every bad variable at once, exit 2, and writes nothing', async () => {
    const c = fresh();
    const r = await runMeshca(
      ['certs', 'workload', 'foo', '-d', c.dir, 'ROOTCA_DAYS=abc', '--workload-days', '0'],
      {
        env: { INTERMEDIATE_DAYS: '1.5' },
      },
    );
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'meshca certs: 3 problems:\n' +
        '  - ROOTCA_DAYS=abc is not a positive whole number\n' +
        '  - INTERMEDIATE_DAYS=1.5 is not a positive whole number\n' +
        '  - WORKLOAD_DAYS=0 is not a positive whole number\n' +
        '(see "meshca certs --help")\n',
    );
    assert.equal(r.stdout, '');
    assert.equal(existsSync(c.dir), false);
  });
});
