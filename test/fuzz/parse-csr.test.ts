// Property tests of the CSR parser against hostile requests: random bytes and text, mutations of
// valid requests (left unsigned, so they fail at the end, or signed again, so every part is read),
// and round trips of what a real key signs. It may only return a request or refuse with a PKI_CSR_ code.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ipToBytes } from '../../src/pki/ip-address.js';
import { parseCsr, parseCsrDer } from '../../src/pki/parse-csr.js';
import { encodePem } from '../../src/pki/pem.js';
import type { ParsedCsr } from '../../src/pki/types.js';
import {
  type CsrContents,
  csrContents,
  expectedSubject,
  makeCsrKeys,
  requestInfo,
  signCsr,
} from './csr-builder.js';
import { mutateDer, mutateTree, mutations, treeOf } from './der-mutations.js';
import { check, guarded, outcomeOf, runsFor } from './fuzz-settings.js';

const CSR_ERROR = /^PKI_CSR_(MALFORMED|UNSUPPORTED_ALGORITHM|BAD_SIGNATURE)$/;
const parsedDer = (der: Buffer) => outcomeOf(() => parseCsrDer(der), ['invalid-input'], CSR_ERROR);
const parsedPem = (pem: string) => outcomeOf(() => parseCsr(pem), ['invalid-input'], CSR_ERROR);

const KEYS = makeCsrKeys();
const key = fc.constantFrom(...KEYS);
const signed = fc
  .tuple(csrContents, key)
  .map(([contents, k]) => ({ contents, key: k, der: signCsr(requestInfo(contents, k), k) }));

/** What any accepted request must look like, whatever it was made of. */
function assertSane(csr: ParsedCsr, input: Buffer): void {
  assert.ok(csr.der.equals(input));
  assert.ok(input.includes(csr.spkiDer), 'the SPKI is a part of the request');
  for (const list of [csr.uris, csr.dnsNames, csr.ips, csr.emails]) {
    assert.ok(Array.isArray(list) && list.every((x) => typeof x === 'string'));
  }
  assert.equal(typeof csr.subject, 'string');
  assert.equal(typeof csr.requestsCa, 'boolean');
  assert.ok(Number.isInteger(csr.keyBits) && csr.keyBits >= 0);
}

describe('CSR parser, fuzzed', () => {
  it('random bytes are refused with a PKI_CSR_ code', () => {
    check(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        guarded((b: Uint8Array) => {
          const result = parsedDer(Buffer.from(b));
          assert.ok(!result.ok, 'random bytes made a valid CSR');
        }),
      ),
      runsFor(300),
    );
  });

  it('random text, bare or PEM-armoured, is refused with a PKI_CSR_ code', () => {
    const armoured = fc
      .tuple(
        fc.constantFrom('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST', 'CERTIFICATE'),
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
      )
      .map(([type, der]) => encodePem(type, der));
    check(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), armoured),
        guarded((text: string) => {
          parsedPem(text);
        }),
      ),
      runsFor(300),
    );
  });

  it('requests signed by a real key read back with the names, subject and CA wish they carry', () => {
    check(
      fc.property(
        signed,
        guarded(
          ({ contents, key: k, der }: { contents: CsrContents; key: (typeof KEYS)[number]; der: Buffer }) => {
            const csr = parseCsr(encodePem('CERTIFICATE REQUEST', der));
            assertSane(csr, der);
            assert.deepEqual(csr.uris, contents.uris);
            assert.deepEqual(csr.dnsNames, contents.dnsNames);
            assert.deepEqual(csr.emails, contents.emails);
            assert.deepEqual(
              csr.ips.map((ip) => [...ipToBytes(ip)]),
              contents.ips.map((ip) => [...ip]),
            );
            assert.equal(csr.subject, expectedSubject(contents));
            assert.equal(csr.requestsCa, contents.ca === true || contents.keyCertSign === true);
            assert.ok(csr.publicKey.equals(createPublicKey(k.key)), "the public key is the signer's");
          },
        ),
      ),
      runsFor(200),
    );
  });

  it('mutated requests (tags, lengths, nesting, bytes) are parsed or refused with a PKI_CSR_ code', () => {
    check(
      fc.property(
        signed,
        mutations,
        guarded(({ der }: { der: Buffer }, ms) => {
          const mutated = mutateDer(der, ms);
          const result = parsedDer(mutated);
          if (result.ok) assertSane(result.value, mutated);
        }),
      ),
      runsFor(400),
    );
  });

  it('mutated requestInfos signed again are parsed or refused with a PKI_CSR_ code', () => {
    check(
      fc.property(
        fc.tuple(csrContents, key),
        mutations,
        guarded(([contents, k]: [CsrContents, (typeof KEYS)[number]], ms) => {
          const info = mutateTree(treeOf(requestInfo(contents, k)), ms);
          const der = signCsr(info, k);
          const result = parsedDer(der);
          if (result.ok) assertSane(result.value, der);
        }),
      ),
      runsFor(400),
    );
  });

  it('mutated PEM text is parsed or refused with a PKI_CSR_ code', () => {
    check(
      fc.property(
        signed,
        fc.nat(),
        fc.constantFrom(
          '',
          '-',
          ':',
          '\r\n',
          '=',
          '-----END CERTIFICATE REQUEST-----',
          '-----BEGIN CERTIFICATE-----',
          'A',
        ),
        fc.nat(),
        guarded(({ der }: { der: Buffer }, at: number, insert: string, cut: number) => {
          const pem = encodePem('CERTIFICATE REQUEST', der);
          const i = at % (pem.length + 1);
          const edited = pem.slice(0, i) + insert + pem.slice(i + (cut % 3));
          const result = parsedPem(edited);
          if (result.ok) assertSane(result.value, result.value.der);
        }),
      ),
      runsFor(300),
    );
  });
});
