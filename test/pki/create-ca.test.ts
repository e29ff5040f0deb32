// createRootCertificate and createIntermediateCertificate, judged by `openssl verify` and by the
// extensions `openssl x509 -text` shows.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { createIntermediateCertificate } from '../../src/pki/create-intermediate-certificate.js';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { generateKey, keyFromPrivateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import type { CertificateInfo, Issuer } from '../../src/pki/types.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { openssl, opensslOk, opensslText } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const SAMPLES = SAMPLES_DIR;
const NOW = new Date('2026-03-01T12:00:00Z');

describe('createRootCertificate', () => {
  let dir: TempDir;
  let key: KeyObject;
  let root: CertificateInfo;
  before(async () => {
    dir = makeTempDir();
    key = await generateKey('ec-p256');
    root = await createRootCertificate({ key, subject: { O: 'Istio', CN: 'Root CA' }, days: 3650 });
  });
  after(() => dir.remove());

  it('makes a self-signed v3 root that openssl verifies against itself', async () => {
    const path = dir.write('root.pem', root.pem);
    assert.equal(
      (await openssl(['verify', '-auth_level', '1', '-CAfile', path, path])).stdout.trim(),
      `${path}: OK`,
    );
    assert.equal(root.selfSigned, true);
    assert.equal(root.subject, 'O=Istio, CN=Root CA');
  });

  it('carries the extensions of a root, as openssl -text shows them', async () => {
    const t = await opensslText(root);
    assert.match(t, /Version: 3 \(0x2\)/);
    assert.match(t, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(t, /Issuer: O = Istio, CN = Root CA\n/);
    assert.match(t, /Subject: O = Istio, CN = Root CA\n/);
    assert.match(t, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
    assert.match(t, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    assert.match(t, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
    assert.doesNotMatch(t, /pathlen/);
    assert.equal(/UTF8STRING\s+:Istio/.test(await opensslOk(['asn1parse'], { input: root.pem })), true);
  });

  it('computes the subject key identifier as openssl does (SHA-1 of the key bits)', async () => {
    const keyPath = dir.write('root.key', key.export({ type: 'pkcs8', format: 'pem' }));
    const byOpenssl = await opensslOk([
      'req',
      '-x509',
      '-new',
      '-key',
      keyPath,
      '-subj',
      '/CN=x',
      '-addext',
      'subjectKeyIdentifier=hash',
    ]);
    assert.deepEqual(root.subjectKeyId, parseCertificate(byOpenssl).subjectKeyId);
  });

  it('backdates by two minutes, lasts the given days and has a positive 16-byte serial', async () => {
    const r = await createRootCertificate({
      key,
      subject: { O: 'Istio', CN: 'Root CA' },
      days: 10,
      now: NOW,
    });
    assert.equal(r.notBefore.toISOString(), '2026-03-01T11:58:00.000Z');
    assert.equal(r.notAfter.toISOString(), '2026-03-11T12:00:00.000Z');
    assert.equal(r.serialHex.length, 32);
    assert.ok(
      Number.parseInt(r.serialHex.slice(0, 2), 16) >= 0x40 &&
        Number.parseInt(r.serialHex.slice(0, 2), 16) < 0x80,
    );
    const other = await createRootCertificate({
      key,
      subject: { O: 'Istio', CN: 'Root CA' },
      days: 10,
      now: NOW,
    });
    assert.notEqual(other.serialHex, r.serialHex);
  });

  it('writes GeneralizedTime from 2050 on, and openssl reads it', async () => {
    const r = await createRootCertificate({ key, subject: { CN: 'Long' }, days: 36500, now: NOW });
    assert.equal(r.notAfter.toISOString(), '2126-02-05T12:00:00.000Z');
    assert.match(await opensslOk(['asn1parse'], { input: r.pem }), /GENERALIZEDTIME\s+:21260205120000Z/);
  });

  it('orders the subject O, CN, L, OU and signs with SHA-384 for a P-384 key', async () => {
    const p384 = await generateKey('ec-p384');
    const r = await createRootCertificate({
      key: p384,
      subject: { OU: 'Mesh', L: 'cluster1', CN: 'Root CA', O: 'Istio' },
      days: 1,
    });
    assert.equal(r.subject, 'O=Istio, CN=Root CA, L=cluster1, OU=Mesh');
    assert.equal(r.signatureAlgorithm, 'ecdsa-with-SHA384');
    assert.match(await opensslText(r), /Signature Algorithm: ecdsa-with-SHA384/);
  });

  it('signs an RSA root with sha256WithRSAEncryption', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const r = await createRootCertificate({ key: rsa, subject: { O: 'Istio', CN: 'Root CA' }, days: 1 });
    assert.equal(r.signatureAlgorithm, 'sha256WithRSAEncryption');
    const path = dir.write('rsa-root.pem', r.pem);
    assert.equal((await openssl(['verify', '-CAfile', path, path])).status, 0);
  });

  it('refuses an empty subject, a bad validity and a public key', async () => {
    const fails = async (p: Promise<unknown>, code: string, message: RegExp) =>
      assert.rejects(p, (err) => isMeshcaError(err) && err.code === code && message.test(err.message));
    await fails(
      createRootCertificate({ key, subject: {}, days: 1 }),
      'PKI_NAME_INVALID',
      /the root subject is empty/,
    );
    await fails(
      createRootCertificate({ key, subject: { CN: ' ' }, days: 1 }),
      'PKI_NAME_INVALID',
      /attribute CN is empty/,
    );
    await fails(
      createRootCertificate({ key, subject: { CN: 'x' }, days: 0 }),
      'PKI_VALIDITY_INVALID',
      /positive number of days/,
    );
    const pub = root.publicKey;
    await fails(
      createRootCertificate({ key: pub, subject: { CN: 'x' }, days: 1 }),
      'PKI_KEY_UNSUPPORTED',
      /private key/,
    );
  });
});

describe('createIntermediateCertificate', () => {
  let dir: TempDir;
  let rootKey: KeyObject;
  let root: CertificateInfo;
  let issuer: Issuer;
  before(async () => {
    dir = makeTempDir();
    rootKey = await generateKey('ec-p256');
    root = await createRootCertificate({ key: rootKey, subject: { O: 'Istio', CN: 'Root CA' }, days: 3650 });
    issuer = { certificate: root, key: keyFromPrivateKey(rootKey) };
    dir.write('root.pem', root.pem);
  });
  after(() => dir.remove());

  it('makes an intermediate that passes openssl verify -CAfile root.pem intermediate.pem', async () => {
    const key = await generateKey('ec-p256');
    const int = await createIntermediateCertificate({
      subjectPublicKey: key,
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer,
      days: 730,
      dnsNames: ['istiod.istio-system.svc'],
    });
    const path = dir.write('intermediate.pem', int.pem);
    const result = await openssl(['verify', '-auth_level', '1', '-CAfile', dir.file('root.pem'), path]);
    assert.equal(result.stdout.trim(), `${path}: OK`);

    const t = await opensslText(int);
    assert.match(t, /Issuer: O = Istio, CN = Root CA\n/);
    assert.match(t, /Subject: O = Istio, CN = Intermediate CA, L = cluster1\n/);
    assert.match(t, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
    assert.match(t, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    assert.match(t, /X509v3 Subject Alternative Name: \n\s+DNS:istiod.istio-system.svc\n/);
    const aki = /X509v3 Authority Key Identifier: \n\s+(?:keyid:)?(\S+)\n/.exec(t)?.[1];
    assert.equal(aki, (root.subjectKeyId!.toString('hex').toUpperCase().match(/../g) ?? []).join(':'));
    assert.match(t, /X509v3 Subject Key Identifier: \n/);
    assert.equal(int.keyDescription, 'EC P-256');
    assert.equal(int.signatureAlgorithm, 'ecdsa-with-SHA256');
  });

  it('sets a larger path length when asked and leaves out the SAN when there is none', async () => {
    const key = await generateKey('ec-p256');
    const int = await createIntermediateCertificate({
      subjectPublicKey: key,
      subject: { CN: 'Mid' },
      issuer,
      days: 1,
      pathLen: 2,
    });
    const t = await opensslText(int);
    assert.match(t, /CA:TRUE, pathlen:2\n/);
    assert.doesNotMatch(t, /Subject Alternative Name/);
    assert.equal(int.pathLen, 2);
  });

  it('signs under the Istio sample CA, whose certificate has no subjectKeyIdentifier', async () => {
    const sampleCa = parseCertificate(readFileSync(`${SAMPLES}/ca-cert.pem`, 'utf8'));
    assert.equal(sampleCa.subjectKeyId, undefined);
    const sampleKey = readPrivateKey(readFileSync(`${SAMPLES}/ca-key.pem`, 'utf8'));
    const key = await generateKey('ec-p256');
    const sub = await createIntermediateCertificate({
      subjectPublicKey: key,
      subject: { O: 'Istio', CN: 'Sub CA' },
      issuer: { certificate: sampleCa, key: keyFromPrivateKey(sampleKey) },
      days: 30,
    });
    assert.equal(sub.signatureAlgorithm, 'sha256WithRSAEncryption');
    assert.ok(sub.authorityKeyId && sub.authorityKeyId.length === 20);
    const result = await openssl([
      'verify',
      '-CAfile',
      `${SAMPLES}/root-cert.pem`,
      '-untrusted',
      `${SAMPLES}/ca-cert.pem`,
      dir.write('sub.pem', sub.pem),
    ]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('refuses to sign under an issuer with pathlen:0', async () => {
    const key = await generateKey('ec-p256');
    const int = await createIntermediateCertificate({
      subjectPublicKey: key,
      subject: { CN: 'Leafy CA' },
      issuer,
      days: 1,
    });
    await assert.rejects(
      createIntermediateCertificate({
        subjectPublicKey: await generateKey('ec-p256'),
        subject: { CN: 'Too deep' },
        issuer: { certificate: int, key: keyFromPrivateKey(key) },
        days: 1,
      }),
      (err) =>
        isMeshcaError(err) &&
        err.code === 'PKI_PATHLEN_EXCEEDED' &&
        err.message.startsWith('the issuer "CN=Leafy CA" has pathlen:0'),
    );
  });

  it('refuses a CaKey that does not belong to the issuer certificate', async () => {
    const stranger = keyFromPrivateKey(await generateKey('ec-p256'));
    await assert.rejects(
      createIntermediateCertificate({
        subjectPublicKey: await generateKey('ec-p256'),
        subject: { CN: 'x' },
        issuer: { certificate: root, key: stranger },
        days: 1,
      }),
      (err) => isMeshcaError(err) && err.code === 'PKI_CA_KEY_MISMATCH' && err.kind === 'ca-unusable',
    );
  });

  it('refuses bad path lengths and DNS names', async () => {
    const key = createPrivateKey(rootKey.export({ type: 'pkcs8', format: 'pem' }));
    const base = { subjectPublicKey: key, subject: { CN: 'x' }, issuer, days: 1 };
    await assert.rejects(
      createIntermediateCertificate({ ...base, pathLen: -1 }),
      (err) => isMeshcaError(err) && err.code === 'PKI_PATHLEN_INVALID',
    );
    await assert.rejects(
      createIntermediateCertificate({ ...base, dnsNames: ['bad name'] }),
      (err) =>
        isMeshcaError(err) && err.code === 'PKI_DNS_NAME_INVALID' && err.message.includes('"bad name"'),
    );
  });
});
