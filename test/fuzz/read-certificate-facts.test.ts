// Property tests of the hot path's certificate reader (pki/read-certificate-facts.ts) against hostile
// bytes: random input and mutations of real certificates (tags, lengths, nesting, bytes, the DER
// inside the extensions included). It may only return facts or refuse with PKI_DER_MALFORMED; and
// whenever OpenSSL (node's X509Certificate) also reads a mutated certificate, both agree on it.
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { issueWorkloadCertificate } from '../../src/pki/issue-workload-certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import { decodePem } from '../../src/pki/pem.js';
import { type CertificateFacts, readCertificateFacts } from '../../src/pki/read-certificate-facts.js';
import { makeOpensslCa, type OpensslCa } from '../support/openssl-ca.js';
import { mutateTree, mutations, type Tlv, treeOf } from './der-mutations.js';
import { check, guarded, outcomeOf, runsFor } from './fuzz-settings.js';

const DER_ERROR = /^PKI_DER_MALFORMED$/;
const readOutcome = (der: Buffer) => outcomeOf(() => readCertificateFacts(der), ['invalid-input'], DER_ERROR);

/** Every accepted input yields facts that are parts of it and dates that exist. */
function assertSane(facts: CertificateFacts, der: Buffer): void {
  assert.match(facts.serial, /^[0-9a-f]+$/);
  assert.ok(!Number.isNaN(facts.notBefore.getTime()) && !Number.isNaN(facts.notAfter.getTime()));
  assert.ok(der.includes(facts.spkiDer) && der.includes(facts.issuerDer));
  if (facts.authorityKeyId) assert.ok(der.includes(facts.authorityKeyId));
}

/** When OpenSSL reads the same bytes as a certificate, it must see what the reader saw. */
function assertAgreesWithOpenssl(facts: CertificateFacts, der: Buffer): void {
  let x509: X509Certificate;
  let key: KeyObject;
  try {
    x509 = new X509Certificate(der);
    key = x509.publicKey;
  } catch {
    return; // OpenSSL refuses it: nothing to compare
  }
  // OpenSSL prints a negative serial's magnitude with a sign: the reader keeps the raw bytes.
  if (!x509.serialNumber.startsWith('-'))
    assert.equal(facts.serial, x509.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''));
  assert.equal(facts.notBefore.toISOString(), new Date(x509.validFrom).toISOString());
  assert.equal(facts.notAfter.toISOString(), new Date(x509.validTo).toISOString());
  // OpenSSL re-encodes a key it reads (a mutated encoding comes back canonical): compare keys, not bytes.
  assert.ok(createPublicKey({ key: facts.spkiDer, format: 'der', type: 'spki' }).equals(key), 'same key');
}

let ca: OpensslCa;
const trees: Tlv[] = [];
before(async () => {
  ca = await makeOpensslCa('ec-p256');
  const spiffeId = 'spiffe://cluster.local/ns/fuzz/sa/reader';
  for (const keyType of ['ec-p256', 'rsa-2048'] as const) {
    const csr = parseCsr(buildWorkloadCsr({ key: await generateKey(keyType), uri: spiffeId }));
    const leaf = await issueWorkloadCertificate({ issuer: ca.intermediate, csr, spiffeId, ttlSeconds: 3600 });
    trees.push(treeOf(leaf.der));
  }
  for (const pem of [ca.intermediate.certificate.pem, ca.root.certificate.pem])
    trees.push(treeOf(decodePem(pem)[0]!.der));
});
after(() => ca.cleanup());

describe('certificate facts reader, fuzzed', () => {
  it('random bytes are refused with PKI_DER_MALFORMED', () => {
    check(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        guarded((b: Uint8Array) => {
          const result = readOutcome(Buffer.from(b));
          if (result.ok) assertSane(result.value, Buffer.from(b));
        }),
      ),
      runsFor(300),
    );
  });

  it('real certificates read back as OpenSSL reads them', () => {
    for (const tree of trees) {
      const der = mutateTree(tree, []);
      const facts = readCertificateFacts(der);
      assertSane(facts, der);
      assertAgreesWithOpenssl(facts, der);
    }
  });

  it('mutated certificates are read (and agree with OpenSSL) or refused with PKI_DER_MALFORMED', () => {
    check(
      fc.property(
        fc.nat(),
        mutations,
        guarded((pick: number, ms) => {
          const der = mutateTree(trees[pick % trees.length]!, ms);
          const result = readOutcome(der);
          if (!result.ok) return;
          assertSane(result.value, der);
          assertAgreesWithOpenssl(result.value, der);
        }),
      ),
      runsFor(600),
    );
  });
});
