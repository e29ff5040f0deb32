// describeCertificate: the text `meshca certs inspect` prints, with a fixed clock.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createIntermediateCertificate } from '../../src/pki/create-intermediate-certificate.js';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { describeCertificate } from '../../src/pki/describe-certificate.js';
import { generateKey, keyFromPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { opensslOk } from '../support/openssl.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

describe('describeCertificate', () => {
  it('describes an intermediate with time left', async () => {
    const rootKey = await generateKey('ec-p256');
    const root = await createRootCertificate({
      key: rootKey,
      subject: { O: 'Istio', CN: 'Root CA' },
      days: 3650,
      now: NOW,
    });
    const int = await createIntermediateCertificate({
      subjectPublicKey: await generateKey('ec-p384'),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: { certificate: root, key: keyFromPrivateKey(rootKey) },
      days: 730,
      dnsNames: ['istiod.istio-system.svc'],
      now: NOW,
    });
    const text = describeCertificate(int, NOW);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], 'Subject:             O=Istio, CN=Intermediate CA, L=cluster1');
    assert.equal(lines[1], 'Issuer:              O=Istio, CN=Root CA');
    assert.equal(lines[2], `Serial:              ${int.serialHex}`);
    assert.equal(lines[3], 'Not before:          2026-03-01T11:58:00Z');
    assert.equal(lines[4], 'Not after:           2028-02-29T12:00:00Z (730 days left)');
    assert.equal(lines[5], 'Key:                 EC P-384');
    assert.equal(lines[6], 'Signature:           ecdsa-with-SHA256');
    assert.equal(lines[7], 'SANs:                DNS:istiod.istio-system.svc');
    assert.equal(lines[8], 'CA:                  yes (CA:TRUE, pathlen:0, critical)');
    assert.equal(lines[9], 'Key usage:           Digital Signature, Certificate Sign, CRL Sign (critical)');
    assert.equal(lines[10], 'Ext key usage:       (none)');
    assert.match(lines[11]!, /^Subject key ID: {6}([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    assert.match(lines[12]!, /^Authority key ID: {4}/);
    assert.equal(lines[13], 'Self-signed:         no');
    const fingerprint = (await opensslOk(['x509', '-noout', '-fingerprint', '-sha256'], { input: int.pem }))
      .trim()
      .split('=')[1];
    assert.equal(lines[14], `SHA-256 fingerprint: ${fingerprint}`);
    assert.ok(text.endsWith('\n'));
  });

  it('says how long ago a certificate expired, or when it starts', async () => {
    const key = await generateKey('ec-p256');
    const root = await createRootCertificate({ key, subject: { CN: 'Short' }, days: 10, now: NOW });
    assert.match(describeCertificate(root, new Date(NOW.getTime() + 13 * DAY)), /\(EXPIRED 3 days ago\)/);
    assert.match(
      describeCertificate(root, new Date(NOW.getTime() + 10 * DAY + 5 * 3600_000)),
      /\(EXPIRED 5 hours ago\)/,
    );
    assert.match(describeCertificate(root, new Date(NOW.getTime() + 9 * DAY + 1000)), /\(23 hours left\)/);
    assert.match(
      describeCertificate(root, new Date(NOW.getTime() - 2 * DAY)),
      /\(NOT YET VALID, starts in 1 day\)/,
    );
    assert.match(describeCertificate(root, NOW), /Self-signed:\s+yes/);
    assert.match(describeCertificate(root, NOW), /CA:\s+yes \(CA:TRUE, critical\)/);
  });

  it('describes a SPIFFE workload certificate from the Istio samples', () => {
    const leaf = parseCertificate(readFileSync(`${SAMPLES_DIR}/leaf-workload-foo-cert.pem`, 'utf8'));
    const text = describeCertificate(leaf, NOW);
    assert.match(text, /^Subject:\s+\(empty\)$/m);
    assert.match(text, /^SANs:\s+URI:spiffe:\/\/trust-domain-foo\/ns\/foo\/sa\/foo \(critical\)$/m);
    assert.match(text, /^CA:\s+no \(CA:FALSE, critical\)$/m);
    assert.match(text, /^Key usage:\s+Digital Signature, Key Encipherment \(critical\)$/m);
    assert.match(text, /^Ext key usage:\s+serverAuth, clientAuth$/m);
    assert.match(text, /^Key:\s+RSA 2048$/m);
  });
});
