// A root and cluster intermediate made by openssl itself with Istio's Makefile.selfsigned.mk
// profile (RSA 4096): meshca loads it as a plugged-in bundle, `meshca certs verify` and `inspect`
// read it as openssl does, and meshca can issue workload certificates under it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBundleFromDir } from '../../src/ca/read-bundle-files.js';
import { type IstioMakefileBundle, makeIstioMakefileBundle } from '../support/istio-makefile-bundle.js';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { openssl, opensslOk } from '../support/openssl.js';

describe("a bundle made by openssl with Istio's Makefile.selfsigned.mk profile", () => {
  let made: IstioMakefileBundle;
  before(async () => {
    made = await makeIstioMakefileBundle();
  });
  after(() => made?.remove());

  it('is what the Makefile makes (checked with openssl)', async () => {
    const root = await opensslOk(['x509', '-in', made.rootCert, '-noout', '-text']);
    assert.match(root, /\n\s+Subject: O = Istio, CN = Root CA\n/);
    assert.match(root, /Public-Key: \(4096 bit\)/);
    const ca = await opensslOk(['x509', '-in', join(made.clusterDir, 'ca-cert.pem'), '-noout', '-text']);
    assert.match(ca, /\n\s+Subject: O = Istio, CN = Intermediate CA, L = cluster1\n/);
    assert.match(ca, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
    assert.match(ca, /X509v3 Subject Alternative Name: \n\s+DNS:istiod\.istio-system\.svc\n/);
    assert.match(ca, /Public-Key: \(4096 bit\)/);
  });

  it('loadBundleFromDir accepts the cluster directory', async () => {
    const b = await loadBundleFromDir(made.clusterDir);
    assert.equal(b.source, 'plugged-istio');
    assert.equal(b.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=cluster1');
    assert.equal(b.issuer.certificate.keyDescription, 'RSA 4096');
    assert.equal(b.issuer.certificate.pathLen, 0);
    assert.deepEqual(
      b.roots.map((r) => r.subject),
      ['O=Istio, CN=Root CA'],
    );
    assert.deepEqual(b.chainPems, [made.dir.read('cluster1/ca-cert.pem')]);
    assert.deepEqual(b.warnings, []);
  });

  it('meshca certs verify accepts the chain and the key, as openssl does', async () => {
    const theirs = await openssl(['verify', '-CAfile', 'root-cert.pem', 'cluster1/ca-cert.pem'], {
      cwd: made.dir.path,
    });
    assert.equal(theirs.stdout, 'cluster1/ca-cert.pem: OK\n', theirs.stderr);
    const r = await runMeshca(
      [
        'certs',
        'verify',
        '--root',
        'root-cert.pem',
        '--key',
        'cluster1/ca-key.pem',
        'cluster1/cert-chain.pem',
      ],
      { cwd: made.dir.path },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(
      r.stdout,
      'cluster1/cert-chain.pem: OK ("O=Istio, CN=Intermediate CA, L=cluster1" → "O=Istio, CN=Root CA")\n',
    );
  });

  it('meshca certs inspect reads it as openssl does', async () => {
    const r = await runMeshcaOk(['certs', 'inspect', 'cluster1/ca-cert.pem'], { cwd: made.dir.path });
    const fingerprint = /^sha256 Fingerprint=(.*)$/m.exec(
      await opensslOk([
        'x509',
        '-in',
        join(made.clusterDir, 'ca-cert.pem'),
        '-noout',
        '-fingerprint',
        '-sha256',
      ]),
    )![1];
    const serial = /^serial=(.*)$/m.exec(
      await opensslOk(['x509', '-in', join(made.clusterDir, 'ca-cert.pem'), '-noout', '-serial']),
    )![1];
    assert.match(r.stdout, /^cluster1\/ca-cert\.pem\n/);
    assert.match(r.stdout, /\nSubject: +O=Istio, CN=Intermediate CA, L=cluster1\n/);
    assert.match(r.stdout, /\nIssuer: +O=Istio, CN=Root CA\n/);
    assert.match(r.stdout, new RegExp(`\\nSerial: +${serial}\\n`));
    assert.match(r.stdout, /\nKey: +RSA 4096\n/);
    assert.match(r.stdout, /\nSignature: +sha256WithRSAEncryption\n/);
    assert.match(r.stdout, /\nSANs: +DNS:istiod\.istio-system\.svc\n/);
    assert.match(r.stdout, /\nCA: +yes \(CA:TRUE, pathlen:0, critical\)\n/);
    assert.match(
      r.stdout,
      /\nKey usage: +Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign \(critical\)\n/,
    );
    assert.match(r.stdout, /\nNot after: +\S+ \((729|730) days left\)\n/);
    assert.match(r.stdout, new RegExp(`\\nSHA-256 fingerprint: ${fingerprint}\\n`));
  });

  it('meshca certs workload issues under the Makefile-made intermediate', async () => {
    const intermediate = made.dir.read('cluster1/ca-cert.pem');
    await runMeshcaOk(['certs', 'workload', 'cluster1', '--service-account', 'vm'], { cwd: made.dir.path });
    assert.equal(
      made.dir.read('cluster1/ca-cert.pem'),
      intermediate,
      'the intermediate is used, not replaced',
    );
    const v = await openssl(
      [
        'verify',
        '-purpose',
        'sslclient',
        '-CAfile',
        'root-cert.pem',
        '-untrusted',
        'cluster1/ca-cert.pem',
        'cluster1/workload-cert.pem',
      ],
      { cwd: made.dir.path },
    );
    assert.equal(v.stdout, 'cluster1/workload-cert.pem: OK\n', v.stderr);
  });
});
