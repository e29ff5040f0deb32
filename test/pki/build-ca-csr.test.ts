// buildCaCsr: the request openssl must accept (signature and requested extensions).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { buildCaCsr } from '../../src/pki/build-ca-csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

describe('buildCaCsr', () => {
  let dir: TempDir;
  before(() => {
    dir = makeTempDir();
  });
  after(() => dir.remove());

  it('makes a CA request whose signature and extensions openssl reads', async () => {
    const key = await generateKey('ec-p256');
    const pem = await buildCaCsr({
      key,
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      dnsNames: ['istiod.istio-system.svc'],
    });
    assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const out = await opensslOk(['req', '-verify', '-noout', '-text', '-in', dir.write('ca.csr', pem)]);
    assert.match(out, /Subject: O = Istio, CN = Intermediate CA, L = cluster1\n/);
    assert.match(out, /Requested Extensions:/);
    assert.match(out, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
    assert.match(out, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    assert.match(out, /X509v3 Subject Alternative Name: \n\s+DNS:istiod.istio-system.svc\n/);
    assert.match(out, /Signature Algorithm: ecdsa-with-SHA256/);
    const parsed = parseCsr(pem);
    assert.equal(parsed.requestsCa, true);
    assert.equal(parsed.subject, 'O=Istio, CN=Intermediate CA, L=cluster1');
  });

  it('like Istio root-cert.csr: an RSA root request without SANs', async () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const pem = await buildCaCsr({ key, subject: { O: 'Istio', CN: 'Root CA' } });
    const out = await opensslOk(['req', '-verify', '-noout', '-text', '-in', dir.write('root.csr', pem)]);
    assert.match(out, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.doesNotMatch(out, /Subject Alternative Name/);
  });

  it('asks for nothing when isCa is false and no SANs are given', async () => {
    const key = await generateKey('ec-p384');
    const pem = await buildCaCsr({ key, subject: { CN: 'plain' }, isCa: false });
    const out = await opensslOk(['req', '-verify', '-noout', '-text', '-in', dir.write('plain.csr', pem)]);
    assert.match(out, /Attributes:\n\s+\(none\)/);
    assert.match(out, /ecdsa-with-SHA384/);
    assert.equal(parseCsr(pem).requestsCa, false);
  });

  it('needs the private key and a subject', async () => {
    const key = await generateKey('ec-p256');
    await assert.rejects(
      buildCaCsr({ key: key, subject: {} }),
      (err) => isMeshcaError(err) && err.code === 'PKI_NAME_INVALID',
    );
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await assert.rejects(
      buildCaCsr({ key: publicKey, subject: { CN: 'x' } }),
      (err) => isMeshcaError(err) && err.code === 'PKI_KEY_UNSUPPORTED',
    );
  });
});
