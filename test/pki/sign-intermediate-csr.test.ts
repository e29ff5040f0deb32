// signIntermediateCsr: requests from buildCaCsr and from openssl become intermediates openssl verifies.
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { buildCaCsr } from '../../src/pki/build-ca-csr.js';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { keyMatchesCertificate } from '../../src/pki/key-matches-certificate.js';
import { generateKey, keyFromPrivateKey } from '../../src/pki/keys.js';
import { signIntermediateCsr } from '../../src/pki/sign-intermediate-csr.js';
import type { CertificateInfo, Issuer } from '../../src/pki/types.js';
import { openssl, opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

describe('signIntermediateCsr', () => {
  let dir: TempDir;
  let root: CertificateInfo;
  let issuer: Issuer;
  let key: KeyObject;
  before(async () => {
    dir = makeTempDir();
    const rootKey = await generateKey('ec-p256');
    root = await createRootCertificate({ key: rootKey, subject: { O: 'Istio', CN: 'Root CA' }, days: 365 });
    issuer = { certificate: root, key: keyFromPrivateKey(rootKey) };
    dir.write('root.pem', root.pem);
    key = await generateKey('ec-p256');
  });
  after(() => dir.remove());

  const verifies = async (cert: CertificateInfo, name: string) => {
    const result = await openssl([
      'verify',
      '-auth_level',
      '1',
      '-CAfile',
      dir.file('root.pem'),
      dir.write(name, cert.pem),
    ]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
  };

  it('issues the intermediate profile for the key and subject of a buildCaCsr request', async () => {
    const csrPem = await buildCaCsr({
      key,
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster2' },
      dnsNames: ['istiod.istio-system.svc'],
    });
    const int = await signIntermediateCsr({ csrPem, issuer, days: 30 });
    assert.equal(int.subject, 'O=Istio, CN=Intermediate CA, L=cluster2');
    assert.equal(int.issuer, 'O=Istio, CN=Root CA');
    assert.deepEqual(int.dnsNames, ['istiod.istio-system.svc']);
    assert.equal(int.pathLen, 0);
    assert.ok(keyMatchesCertificate(key, int));
    await verifies(int, 'from-meshca.pem');
  });

  it('signs a request openssl made, keeping its PrintableString subject verbatim', async () => {
    const keyPath = dir.write('int.key', key.export({ type: 'pkcs8', format: 'pem' }));
    const csrPem = await opensslOk([
      'req',
      '-new',
      '-key',
      keyPath,
      '-subj',
      '/O=Istio/CN=Intermediate CA/L=cluster3',
      '-utf8',
    ]);
    const int = await signIntermediateCsr({ csrPem, issuer, days: 30, pathLen: 1, dnsNames: [] });
    assert.equal(int.subject, 'O=Istio, CN=Intermediate CA, L=cluster3');
    assert.equal(int.pathLen, 1);
    assert.deepEqual(int.dnsNames, []);
    const csrSubject = await opensslOk(['req', '-noout', '-subject', '-nameopt', 'RFC2253'], {
      input: csrPem,
    });
    const certSubject = await opensslOk(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], {
      input: int.pem,
    });
    assert.equal(certSubject, csrSubject);
    await verifies(int, 'from-openssl.pem');
  });

  it('replaces the subject when asked', async () => {
    const csrPem = await buildCaCsr({ key, subject: { CN: 'whatever' } });
    const int = await signIntermediateCsr({
      csrPem,
      issuer,
      days: 1,
      subjectOverride: { O: 'Istio', CN: 'Intermediate CA' },
    });
    assert.equal(int.subject, 'O=Istio, CN=Intermediate CA');
    await verifies(int, 'override.pem');
  });

  it('refuses a request whose signature does not verify', async () => {
    const csrPem = await buildCaCsr({ key, subject: { O: 'Istio', CN: 'Intermediate CA' } });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    // Flip one byte of the subject: the request no longer matches its signature.
    const at = der.indexOf(Buffer.from('Intermediate'));
    der[at] = der[at]! ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(
      signIntermediateCsr({ csrPem: tampered, issuer, days: 1 }),
      (err) => isMeshcaError(err) && err.code === 'PKI_CSR_BAD_SIGNATURE',
    );
  });

  it('refuses a request with an empty subject unless a subject is given', async () => {
    const keyPath = dir.write('empty.key', key.export({ type: 'pkcs8', format: 'pem' }));
    const csrPem = await opensslOk(['req', '-new', '-key', keyPath, '-subj', '/']);
    await assert.rejects(
      signIntermediateCsr({ csrPem, issuer, days: 1 }),
      (err) => isMeshcaError(err) && err.code === 'PKI_NAME_INVALID' && /empty subject/.test(err.message),
    );
    const int = await signIntermediateCsr({ csrPem, issuer, days: 1, subjectOverride: { CN: 'Named' } });
    assert.equal(int.subject, 'CN=Named');
  });
});
