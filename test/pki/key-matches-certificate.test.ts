// keyMatchesCertificate on the Istio samples (one pair is known not to match) and fresh keys,
// cross-checked with the public keys openssl extracts.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { keyMatchesCertificate } from '../../src/pki/key-matches-certificate.js';
import { generateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { opensslOk } from '../support/openssl.js';

const SAMPLES = SAMPLES_DIR;
const PAIRS: [key: string, cert: string, matches: boolean][] = [
  ['ca-key.pem', 'ca-cert.pem', true],
  ['ca-key-alt.pem', 'ca-cert-alt.pem', true],
  ['ca-key-alt-2.pem', 'ca-cert-alt-2.pem', false],
  ['workload-foo-key.pem', 'workload-foo-cert.pem', true],
  ['workload-bar-key.pem', 'workload-bar-cert.pem', true],
  ['workload-foo-key.pem', 'workload-bar-cert.pem', false],
];

describe('keyMatchesCertificate', () => {
  for (const [keyFile, certFile, matches] of PAIRS) {
    it(`${keyFile} ${matches ? 'matches' : 'does not match'} ${certFile}, as openssl sees it`, async () => {
      const keyPem = readFileSync(`${SAMPLES}/${keyFile}`, 'utf8');
      const certPem = readFileSync(`${SAMPLES}/${certFile}`, 'utf8');
      const [cert] = parseCertificates(certPem, certFile);
      const key = readPrivateKey(keyPem, keyFile);
      assert.equal(keyMatchesCertificate(key, cert!), matches);
      assert.equal(keyMatchesCertificate(createPublicKey(key), cert!), matches);
      const fromKey = await opensslOk(['pkey', '-pubout'], { input: keyPem });
      const fromCert = await opensslOk(['x509', '-noout', '-pubkey'], { input: cert!.pem });
      assert.equal(fromKey === fromCert, matches);
    });
  }

  it('matches a fresh EC key with the root it made and not with another key', async () => {
    const key = await generateKey('ec-p256');
    const root = await createRootCertificate({ key, subject: { CN: 'k' }, days: 1 });
    assert.equal(keyMatchesCertificate(key, root), true);
    assert.equal(
      keyMatchesCertificate(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, root),
      false,
    );
    assert.equal(keyMatchesCertificate(generateKeyPairSync('ed25519').privateKey, root), false);
  });
});
