// verifyChain on Istio's sample certificates and on a bundle made like Istio's Makefile; every verdict
// is compared with `openssl verify -auth_level 1 -CAfile roots -untrusted intermediates leaf`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createIntermediateCertificate } from '../../src/pki/create-intermediate-certificate.js';
import { keyFromPrivateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate, parseCertificates } from '../../src/pki/parse-certificate.js';
import { opensslIssue, opensslKey, opensslSelfSigned } from '../support/openssl-ca.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { INT, judgeChain, LEAF_EXT, pathOf, ROOT, reasonsOf, samples } from './verify-chain-judge.js';

let dir: TempDir;

const judge = (o: Parameters<typeof judgeChain>[1]) => judgeChain(dir, o);

before(() => {
  dir = makeTempDir();
});
after(() => dir.remove());

describe('verifyChain on the Istio sample certificates', () => {
  it('verifies ca-cert.pem with root-cert.pem', async () => {
    const [ca] = samples('ca-cert.pem');
    const verdict = await judge({ leaf: ca!, roots: samples('root-cert.pem') });
    assert.deepEqual(pathOf(verdict), [
      'C=US, ST=California, L=Sunnyvale, O=Istio, CN=Istio CA',
      'C=US, ST=California, L=Sunnyvale, O=Istio, OU=Test, CN=Root CA, emailAddress=testrootca@istio.io',
    ]);
  });

  it('verifies the -alt set, alone and as cert-chain bundles', async () => {
    for (const file of ['ca-cert-alt.pem', 'ca-cert-alt-2.pem']) {
      await judge({ leaf: samples(file)[0]!, roots: samples('root-cert-alt.pem') });
    }
    for (const file of ['cert-chain-alt.pem', 'cert-chain-alt-2.pem']) {
      const [leaf, ...rest] = samples(file);
      const verdict = await judge({ leaf: leaf!, intermediates: rest, roots: samples('root-cert-alt.pem') });
      assert.equal(pathOf(verdict).length, 2);
    }
  });

  it('verifies against root-cert-combined*.pem, which hold several roots', async () => {
    assert.equal(samples('root-cert-combined.pem').length, 2);
    assert.equal(samples('root-cert-combined-2.pem').length, 3);
    for (const roots of ['root-cert-combined.pem', 'root-cert-combined-2.pem']) {
      for (const file of ['ca-cert.pem', 'ca-cert-alt.pem', 'ca-cert-alt-2.pem']) {
        await judge({ leaf: samples(file)[0]!, roots: samples(roots) });
      }
    }
  });

  it('verifies the foo and bar workload certificates', async () => {
    for (const who of ['foo', 'bar']) {
      const [leaf, ...chain] = samples(`workload-${who}-cert.pem`);
      const verdict = await judge({ leaf: leaf!, intermediates: chain, roots: samples('root-cert.pem') });
      assert.equal(pathOf(verdict)[0], `spiffe://trust-domain-${who}/ns/${who}/sa/${who}`);
      // The -root-certs bundle holds the intermediate too, both trusted.
      await judge({ leaf: leaf!, roots: samples(`workload-${who}-root-certs.pem`) });
      await judge({
        leaf: samples(`leaf-workload-${who}-cert.pem`)[0]!,
        intermediates: samples('ca-cert.pem'),
        roots: samples('root-cert.pem'),
      });
    }
  });

  it('does not verify a sample intermediate against the other set’s root', async () => {
    const verdict = await judge({ leaf: samples('ca-cert-alt.pem')[0]!, roots: samples('root-cert.pem') });
    assert.deepEqual(reasonsOf(verdict), [
      `no issuer found for "${INT}" (issuer "${ROOT}"): the chain is missing an intermediate`,
    ]);
  });
});

describe('verifyChain on a bundle openssl makes with Istio’s Makefile.selfsigned.mk profile', () => {
  it('parses and verifies root, intermediate and a workload under them', async () => {
    // root-ca.conf: RSA 4096, O=Istio, CN=Root CA, signed with its own key by `openssl x509 -req -signkey`.
    const rootKey = await opensslKey(dir, 'istio-root', 'rsa-4096');
    const rootPem = await opensslSelfSigned(dir, {
      subj: '/O=Istio/CN=Root CA',
      key: rootKey,
      days: 3650,
      ext: [
        'subjectKeyIdentifier=hash',
        'basicConstraints=critical,CA:true',
        'keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign',
      ],
    });
    const rootPath = dir.write('istio-root.pem', rootPem);
    // cluster1/intermediate.conf: pathlen:0, L=cluster1, DNS:istiod.istio-system.svc.
    const intKey = await opensslKey(dir, 'istio-int', 'rsa-2048');
    const intPem = await opensslIssue(dir, {
      subj: '/O=Istio/CN=Intermediate CA/L=cluster1',
      key: intKey,
      caCert: rootPath,
      caKey: rootKey,
      days: 730,
      ext: [
        'subjectKeyIdentifier=hash',
        'basicConstraints=critical,CA:true,pathlen:0',
        'keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign',
        'subjectAltName=DNS.1:istiod.istio-system.svc',
      ],
    });
    const root = parseCertificate(rootPem, 'root-cert.pem');
    const int = parseCertificate(intPem, 'ca-cert.pem');
    assert.equal(root.keyDescription, 'RSA 4096');
    assert.equal(root.subject, ROOT);
    assert.equal(int.subject, INT);
    assert.equal(int.pathLen, 0);
    assert.deepEqual(int.dnsNames, ['istiod.istio-system.svc']);
    assert.deepEqual(pathOf(await judge({ leaf: int, roots: [root] })), [INT, ROOT]);

    const leafPem = await opensslIssue(dir, {
      subj: '/',
      key: await opensslKey(dir, 'istio-leaf'),
      caCert: dir.write('istio-int.pem', intPem),
      caKey: intKey,
      days: 1,
      ext: [...LEAF_EXT, 'subjectAltName=critical,URI:spiffe://cluster.local/ns/default/sa/sleep'],
    });
    const chain = parseCertificates(intPem + rootPem, 'cert-chain.pem');
    const verdict = await judge({ leaf: parseCertificate(leafPem), intermediates: chain, roots: [root] });
    assert.deepEqual(pathOf(verdict), ['spiffe://cluster.local/ns/default/sa/sleep', INT, ROOT]);

    // An intermediate meshca makes under the openssl root verifies too.
    const signer = {
      certificate: root,
      key: keyFromPrivateKey(readPrivateKey(readFileSync(rootKey, 'utf8'))),
    };
    return createIntermediateCertificate({
      subjectPublicKey: readPrivateKey(readFileSync(intKey, 'utf8')),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster2' },
      issuer: signer,
      days: 30,
    }).then(async (ours) => {
      assert.ok((await judge({ leaf: ours, roots: [root] })).ok);
    });
  });
});
