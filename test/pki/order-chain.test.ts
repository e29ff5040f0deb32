// orderChain: jumbled chains come out leaf → root; certificates that are not one chain are refused.
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { createIntermediateCertificate } from '../../src/pki/create-intermediate-certificate.js';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { generateKey, keyFromPrivateKey } from '../../src/pki/keys.js';
import { orderChain } from '../../src/pki/order-chain.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import type { CertificateInfo } from '../../src/pki/types.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';

const SAMPLES = SAMPLES_DIR;
const samples = (file: string) => parseCertificates(readFileSync(`${SAMPLES}/${file}`, 'utf8'), file);
const subjects = (certs: CertificateInfo[]) => certs.map((c) => c.subject || c.uris[0]);

describe('orderChain', () => {
  let root: CertificateInfo;
  let rootKey: KeyObject;
  let int1: CertificateInfo;
  let int2: CertificateInfo;
  before(async () => {
    rootKey = await generateKey('ec-p256');
    root = await createRootCertificate({ key: rootKey, subject: { O: 'Istio', CN: 'Root CA' }, days: 10 });
    const k1 = await generateKey('ec-p256');
    int1 = await createIntermediateCertificate({
      subjectPublicKey: k1,
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: { certificate: root, key: keyFromPrivateKey(rootKey) },
      days: 10,
      pathLen: 1,
    });
    int2 = await createIntermediateCertificate({
      subjectPublicKey: await generateKey('ec-p256'),
      subject: { O: 'Istio', CN: 'Second CA' },
      issuer: { certificate: int1, key: keyFromPrivateKey(k1) },
      days: 10,
    });
  });

  it('orders every permutation of a three-certificate chain leaf → root', () => {
    const expected = [
      'O=Istio, CN=Second CA',
      'O=Istio, CN=Intermediate CA, L=cluster1',
      'O=Istio, CN=Root CA',
    ];
    for (const order of [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ]) {
      const jumbled = order.map((i) => [int2, int1, root][i]!);
      assert.deepEqual(subjects(orderChain(jumbled)), expected);
    }
  });

  it('orders the Istio samples: a reversed cert-chain-alt.pem, a workload chain with its root', () => {
    assert.deepEqual(subjects(orderChain(samples('cert-chain-alt.pem').reverse())), [
      'O=Istio, CN=Intermediate CA, L=cluster1',
      'O=Istio, CN=Root CA',
    ]);
    const foo = [...samples('root-cert.pem'), ...samples('workload-foo-cert.pem').reverse()];
    assert.deepEqual(subjects(orderChain(foo)), [
      'spiffe://trust-domain-foo/ns/foo/sa/foo',
      'C=US, ST=California, L=Sunnyvale, O=Istio, CN=Istio CA',
      'C=US, ST=California, L=Sunnyvale, O=Istio, OU=Test, CN=Root CA, emailAddress=testrootca@istio.io',
    ]);
  });

  it('keeps a chain without its root, drops exact duplicates, passes one or none through', () => {
    assert.deepEqual(subjects(orderChain([int1, int2])), [
      'O=Istio, CN=Second CA',
      'O=Istio, CN=Intermediate CA, L=cluster1',
    ]);
    assert.equal(orderChain([root, int1, root, int1]).length, 2);
    assert.deepEqual(orderChain([root]), [root]);
    assert.deepEqual(orderChain([]), []);
  });

  it('refuses two leaves', () => {
    assert.throws(
      () => orderChain([int2, root, samples('ca-cert-alt.pem')[0]!]),
      (err) =>
        isMeshcaError(err) &&
        err.code === 'PKI_CHAIN_DISCONNECTED' &&
        err.message ===
          'the certificates do not form one chain: "O=Istio, CN=Second CA", "O=Istio, CN=Root CA", "O=Istio, CN=Intermediate CA, L=cluster1" each issued none of the others, so there is more than one leaf; a chain holds one leaf and the CAs above it, each issued by the next',
    );
  });

  it('refuses a certificate that hangs off the chain', async () => {
    // A renewed root (same name and key, new serial) also issued int1, but the path takes one root only.
    const renewed = await createRootCertificate({
      key: rootKey,
      subject: { O: 'Istio', CN: 'Root CA' },
      days: 20,
    });
    assert.throws(
      () => orderChain([int2, int1, root, renewed]),
      (err) =>
        isMeshcaError(err) &&
        err.code === 'PKI_CHAIN_DISCONNECTED' &&
        err.message.startsWith(
          'the certificates do not form one chain: "O=Istio, CN=Root CA" is not on the path from "O=Istio, CN=Second CA" to "O=Istio, CN=Root CA"',
        ),
    );
  });
});
