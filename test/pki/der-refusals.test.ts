// The DER reader's refusals with their exact reasons. Refusing with "some" PKI_DER_MALFORMED is not
// enough: a non-minimal length or a child overrunning its parent used to be refused only by
// accident, by a later check tripping over the bytes, so removing the real check went unnoticed.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { children, MAX_OID_BYTES, readDer, readOid, readTlv } from '../../src/pki/der-reader.js';
import { bitString, implicit, sequence, setOf, smallInteger, tlv } from '../../src/pki/der-writer.js';
import { parseCsrDer } from '../../src/pki/parse-csr.js';
import { decodePem } from '../../src/pki/pem.js';

const fromHex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

function refuses(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: string; kind?: string; message?: string };
    assert.equal(e.code, code, String(e.message));
    assert.equal(e.kind, 'invalid-input');
    assert.equal(e.message, message);
    return true;
  });
}

/** Reads every TLV, as a parser walking the structure would. */
function readAll(buf: Buffer): void {
  const stack = [readDer(buf)];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.constructed) for (const kid of children(buf, node)) stack.push(kid);
  }
}

describe('DER refusals, exact reasons', () => {
  const nonMinimal: [string, string, number][] = [
    ['a short length in long form', '04 81 01 00', 0],
    ['a zero length in long form', '04 81 00', 0],
    ['a short length with a leading zero byte', '04 82 00 01 00', 0],
    ['a length of 128 with a leading zero byte', `04 82 00 80 ${'00'.repeat(128)}`, 0],
    ['a length of 256 in four octets', `04 84 00 00 01 00 ${'00'.repeat(256)}`, 0],
    ['a non-minimal length inside a SEQUENCE', '30 04 04 81 01 00', 2],
    ['a non-minimal length two levels down', '30 08 30 06 02 01 00 04 81 00', 7],
  ];
  for (const [what, hex, offset] of nonMinimal) {
    it(`refuses ${what} as non-minimal, at offset ${offset}`, () => {
      refuses(
        () => readAll(fromHex(hex)),
        'PKI_DER_MALFORMED',
        `malformed DER: non-minimal length at offset ${offset}`,
      );
    });
  }

  it('reads the minimal long forms it refuses padded', () => {
    assert.equal(readDer(fromHex(`04 81 80 ${'00'.repeat(128)}`)).length, 128);
    assert.equal(readDer(fromHex(`04 82 01 00 ${'00'.repeat(256)}`)).length, 256);
  });

  it("refuses a child that runs past its parent's end though the buffer holds the bytes", () => {
    // SEQUENCE { SEQUENCE { INTEGER claiming 3 bytes, of which 1 is inside } NULL }: counted against
    // the whole buffer, the INTEGER would swallow the NULL and end exactly at the buffer's end.
    const buf = fromHex('30 07 30 03 02 03 01 05 00');
    const [inner] = children(buf, readDer(buf));
    assert.equal(readTlv(buf, 4).end, buf.length, 'the overrun fits in the buffer');
    refuses(
      () => children(buf, inner!),
      'PKI_DER_MALFORMED',
      'malformed DER: value at offset 4 claims 3 bytes but only 1 remain',
    );
  });

  it('refuses a child header that straddles its parent end', () => {
    // The inner SEQUENCE holds one byte; its child's header needs two.
    const buf = fromHex('30 05 30 01 02 01 00');
    const [inner] = children(buf, readDer(buf));
    refuses(() => children(buf, inner!), 'PKI_DER_MALFORMED', 'malformed DER: truncated header at offset 4');
  });

  it('refuses an OBJECT IDENTIFIER longer than it reads, and reads one of exactly that size', () => {
    const long = Buffer.alloc(MAX_OID_BYTES + 1, 0x81).fill(0x01, MAX_OID_BYTES);
    const der = tlv(0x06, long);
    refuses(
      () => readOid(der, readDer(der)),
      'PKI_DER_MALFORMED',
      `malformed DER: OBJECT IDENTIFIER at offset 0 is ${MAX_OID_BYTES + 1} bytes long; meshca reads at most ${MAX_OID_BYTES}`,
    );
    // 1.2 and one long arc: exactly MAX_OID_BYTES content bytes.
    const fits = tlv(
      0x06,
      Buffer.concat([fromHex('2a'), long.subarray(0, MAX_OID_BYTES - 2), fromHex('01')]),
    );
    assert.equal(readOid(fits, readDer(fits)).split('.').length, 3);
  });
});

describe('DER refusals reach the CSR parser with their reasons', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const valid = decodePem(buildWorkloadCsr({ key, uri: 'spiffe://cluster.local/ns/default/sa/der' }))[0]!.der;
  const [info, algorithm, signature] = children(valid, readDer(valid));
  const [, subject, spki, attributes] = children(valid, info!);
  const slice = (node: { start: number; end: number }) => valid.subarray(node.start, node.end);

  it('names the non-minimal length of the version INTEGER', () => {
    const paddedVersion = fromHex('02 81 01 00');
    const csr = sequence(
      sequence(paddedVersion, slice(subject!), slice(spki!), slice(attributes!)),
      slice(algorithm!),
      slice(signature!),
    );
    const offset = csr.indexOf(paddedVersion);
    refuses(
      () => parseCsrDer(csr),
      'PKI_CSR_MALFORMED',
      `the CSR is not a valid PKCS#10 request: malformed DER: non-minimal length at offset ${offset}`,
    );
  });

  it('names the attributes [0] that claims bytes past the end of certificationRequestInfo', () => {
    // One length octet changed: attributes grows 5 bytes into the signatureAlgorithm that follows.
    assert.ok(attributes!.length + 5 < 0x80 && attributes!.valueStart === attributes!.start + 2);
    const csr = Buffer.from(valid);
    csr[attributes!.start + 1] = attributes!.length + 5;
    refuses(
      () => parseCsrDer(csr),
      'PKI_CSR_MALFORMED',
      `the CSR is not a valid PKCS#10 request: malformed DER: value at offset ${attributes!.start} claims ${attributes!.length + 5} bytes but only ${attributes!.length} remain`,
    );
  });

  // How long the refusal takes (it once took minutes) is measured by `npm run bench` (bench/hostile-inputs.ts).
  it('names a megabyte OBJECT IDENTIFIER in the subject instead of reading it', () => {
    const hugeOid = tlv(0x06, Buffer.alloc(1 << 20, 0xff).fill(0x7f, (1 << 20) - 1));
    const subjectWithOid = sequence(setOf(sequence(hugeOid, tlv(0x0c, Buffer.from('x')))));
    const csr = sequence(
      sequence(smallInteger(0), subjectWithOid, slice(spki!), implicit(0, Buffer.alloc(0), true)),
      slice(algorithm!),
      bitString(Buffer.alloc(8)),
    );
    refuses(
      () => parseCsrDer(csr),
      'PKI_CSR_MALFORMED',
      `the CSR is not a valid PKCS#10 request: malformed DER: OBJECT IDENTIFIER at offset ${csr.indexOf(hugeOid)} is ${1 << 20} bytes long; meshca reads at most ${MAX_OID_BYTES}`,
    );
  });
});
