// The lean DER encoder and reader: exact encodings for the pieces X.509 uses, OpenSSL's asn1parse
// as an independent reader, and refusal of truncated or non-DER input.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  children,
  readBitString,
  readBoolean,
  readDer,
  readOid,
  readSmallInteger,
  readString,
  readTlv,
} from '../../src/pki/der-reader.js';
import {
  bitString,
  boolean,
  derLength,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  namedBits,
  nullValue,
  octetString,
  oid,
  printableString,
  sequence,
  setOf,
  smallInteger,
  utcTime,
  utf8String,
  x509Time,
} from '../../src/pki/der-writer.js';
import { assertThrowsCode } from '../support/assert-error.js';
import { openssl } from '../support/openssl.js';

const hex = (b: Buffer) => b.toString('hex');
const fromHex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

const assertCode = (fn: () => unknown, code: string) => assertThrowsCode(fn, code);

describe('DER encoder', () => {
  it('writes lengths in short form below 128 and minimal long form above', () => {
    assert.equal(hex(derLength(0)), '00');
    assert.equal(hex(derLength(127)), '7f');
    assert.equal(hex(derLength(128)), '8180');
    assert.equal(hex(derLength(255)), '81ff');
    assert.equal(hex(derLength(256)), '820100');
    assert.equal(hex(derLength(65535)), '82ffff');
    assert.equal(hex(derLength(65536)), '83010000');
    assert.equal(hex(derLength(0x1000000)), '8401000000');
    for (const size of [0, 1, 127, 128, 255, 256, 1000, 70000]) {
      const encoded = octetString(Buffer.alloc(size, 7));
      const node = readDer(encoded);
      assert.equal(node.length, size);
      assert.equal(node.end, encoded.length);
    }
  });

  it('encodes positive INTEGERs minimally, with a zero byte before a set top bit', () => {
    assert.equal(hex(integer(fromHex('00000001'))), '020101');
    assert.equal(hex(integer(fromHex('80'))), '02020080');
    assert.equal(hex(integer(fromHex('007f'))), '02017f');
    assert.equal(hex(integer(fromHex('0000'))), '020100');
    assert.equal(hex(integer(Buffer.alloc(0))), '020100');
    assert.equal(hex(smallInteger(0)), '020100');
    assert.equal(hex(smallInteger(2)), '020102');
    assert.equal(hex(smallInteger(128)), '02020080');
    assert.equal(hex(smallInteger(65537)), '0203010001');
    assert.equal(readSmallInteger(smallInteger(65537), readDer(smallInteger(65537))), 65537);
    assertCode(() => smallInteger(-1), 'PKI_DER_ENCODE');
  });

  it('encodes OBJECT IDENTIFIERs, including large and first-arc-2 arcs, and reads them back', () => {
    assert.equal(hex(oid('2.5.29.17')), '0603551d11');
    assert.equal(hex(oid('1.2.840.113549.1.1.11')), '06092a864886f70d01010b');
    assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
    assert.equal(hex(oid('2.999.3')), '0603883703');
    assert.equal(hex(oid('0.9.2342.19200300.100.1.25')), '060a0992268993f22c640119');
    for (const dotted of [
      '2.5.29.17',
      '1.3.6.1.5.5.7.3.1',
      '2.999.3',
      '1.2.840.113549.1.9.14',
      '2.25.1234567890123456789',
    ]) {
      const encoded = oid(dotted);
      assert.equal(readOid(encoded, readDer(encoded)), dotted);
    }
    assert.equal(oid('2.5.29.17'), oid('2.5.29.17'), 'cached');
    for (const bad of ['', '1', '3.1', '1.40', '1.2.x', '1..2', '1.02'])
      assertCode(() => oid(bad), 'PKI_DER_ENCODE');
  });

  it('encodes BOOLEAN, NULL, BIT STRING and named bits as DER requires', () => {
    assert.equal(hex(boolean(true)), '0101ff');
    assert.equal(hex(boolean(false)), '010100');
    assert.equal(hex(nullValue()), '0500');
    assert.equal(hex(bitString(fromHex('abcd'))), '030300abcd');
    // keyUsage: digitalSignature; digitalSignature+keyEncipherment; keyCertSign+cRLSign
    assert.equal(hex(namedBits([0])), '03020780');
    assert.equal(hex(namedBits([0, 2])), '030205a0');
    assert.equal(hex(namedBits([5, 6])), '03020106');
    assert.equal(hex(namedBits([0, 8])), '0303078080');
    assert.equal(hex(namedBits([])), '030100');
    assertCode(() => bitString(fromHex('ab'), 8), 'PKI_DER_ENCODE');
  });

  it('encodes strings and refuses characters a type cannot carry', () => {
    assert.equal(hex(utf8String('é')), '0c02c3a9');
    assert.equal(hex(printableString('Istio CA')), '1308497374696f204341');
    assert.equal(hex(ia5String('a@b')), '1603614062');
    assertCode(() => printableString('a@b'), 'PKI_DER_ENCODE');
    assertCode(() => ia5String('é'), 'PKI_DER_ENCODE');
    const utf8 = utf8String('Zürich');
    assert.equal(readString(utf8, readDer(utf8)), 'Zürich');
  });

  it('writes UTCTime before 2050 and GeneralizedTime from 2050, in whole seconds', () => {
    const text = (b: Buffer) => b.subarray(2).toString('latin1');
    assert.equal(text(utcTime(new Date('2049-12-31T23:59:59.999Z'))), '491231235959Z');
    assert.equal(text(utcTime(new Date('1999-01-02T03:04:05Z'))), '990102030405Z');
    assert.equal(utcTime(new Date('1999-01-02T03:04:05Z'))[0], 0x17);
    assert.equal(text(generalizedTime(new Date('2050-01-01T00:00:00Z'))), '20500101000000Z');
    assert.equal(generalizedTime(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
    assert.equal(x509Time(new Date('2049-12-31T23:59:59Z'))[0], 0x17);
    assert.equal(x509Time(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
    assertCode(() => utcTime(new Date('2050-01-01T00:00:00Z')), 'PKI_DER_ENCODE');
    assertCode(() => x509Time(new Date(Number.NaN)), 'PKI_DER_ENCODE');
  });

  it('encodes explicit and implicit context tags and sorts SET OF', () => {
    assert.equal(hex(explicit(0, smallInteger(2))), 'a003020102');
    assert.equal(hex(explicit(3, sequence())), 'a3023000');
    assert.equal(hex(implicit(6, Buffer.from('x'))), '860178');
    assert.equal(hex(implicit(0, sequence(), true)), 'a0023000');
    assert.equal(hex(setOf(smallInteger(2), smallInteger(1))), '3106020101020102');
    assertCode(() => explicit(31, nullValue()), 'PKI_DER_ENCODE');
  });
});

describe('DER encoder, judged by openssl asn1parse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshca-der-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('produces a structure OpenSSL parses as intended, with a long-form length', async () => {
    const der = sequence(
      explicit(0, smallInteger(2)),
      integer(fromHex('7fffffffffffffffffffffffffffffff')),
      sequence(oid('1.2.840.10045.4.3.2')),
      setOf(sequence(oid('2.5.4.3'), utf8String('Root CA'))),
      sequence(utcTime(new Date('2030-06-01T12:00:00Z')), generalizedTime(new Date('2060-06-01T12:00:00Z'))),
      octetString(Buffer.alloc(200, 0xaa)),
      bitString(fromHex('0102')),
      boolean(true),
      nullValue(),
      implicit(6, Buffer.from('spiffe://td/ns/a/sa/b')),
    );
    const path = join(dir, 'x.der');
    writeFileSync(path, der);
    const result = await openssl(['asn1parse', '-inform', 'DER', '-in', path]);
    assert.equal(result.status, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /cons: SEQUENCE/);
    assert.match(out, /cont \[ 0 \]/);
    assert.match(out, /INTEGER\s+:7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF/);
    assert.match(out, /OBJECT\s+:ecdsa-with-SHA256/);
    assert.match(out, /OBJECT\s+:commonName/);
    assert.match(out, /UTF8STRING\s+:Root CA/);
    assert.match(out, /UTCTIME\s+:300601120000Z/);
    assert.match(out, /GENERALIZEDTIME\s+:20600601120000Z/);
    assert.match(out, new RegExp(`^ +0:d=0  hl=4 l= ${der.length - 4} cons: SEQUENCE`));
    assert.match(out, /hl=3 l= 200 prim: OCTET STRING/);
    assert.match(out, /BOOLEAN\s+:255/);
    assert.match(out, /NULL/);
    assert.match(out, /cont \[ 6 \]/);
  });
});

describe('DER reader', () => {
  it('walks children and reads primitive values', () => {
    const der = sequence(smallInteger(5), boolean(true), bitString(fromHex('ff'), 1), oid('2.5.29.19'));
    const [int, bool, bits, id] = children(der, readDer(der));
    assert.equal(readSmallInteger(der, int!), 5);
    assert.equal(readBoolean(der, bool!), true);
    assert.deepEqual(readBitString(der, bits!), { unusedBits: 1, bytes: fromHex('ff') });
    assert.equal(readOid(der, id!), '2.5.29.19');
  });

  const refused: [string, string][] = [
    ['empty input', ''],
    ['a lone tag', '30'],
    ['a value shorter than its length', '300301'],
    ['an indefinite length (BER)', '30800000'],
    ['a long-form length below 128', '30810100'],
    ['a long-form length with a leading zero byte', '3082000100'],
    ['a length of more than four bytes', '3085000000000100'],
    ['a truncated long-form length', '3082'],
    ['trailing bytes', '300000'],
    ['a high-tag-number form', '1f2100'],
    ['a child running past its parent', '3003020201'],
  ];
  for (const [what, input] of refused) {
    it(`refuses ${what} with PKI_DER_MALFORMED`, () => {
      assertCode(() => {
        const buf = fromHex(input);
        children(buf, readDer(buf));
      }, 'PKI_DER_MALFORMED');
    });
  }

  it('refuses non-DER BOOLEANs, negative or padded INTEGERs and bad OIDs', () => {
    assertCode(() => readBoolean(fromHex('010101'), readDer(fromHex('010101'))), 'PKI_DER_MALFORMED');
    assertCode(() => readSmallInteger(fromHex('020180'), readDer(fromHex('020180'))), 'PKI_DER_MALFORMED');
    assertCode(
      () => readSmallInteger(fromHex('02020001'), readDer(fromHex('02020001'))),
      'PKI_DER_MALFORMED',
    );
    assertCode(() => readOid(fromHex('0600'), readDer(fromHex('0600'))), 'PKI_DER_MALFORMED');
    assertCode(() => readOid(fromHex('060188'), readDer(fromHex('060188'))), 'PKI_DER_MALFORMED');
    assertCode(() => readOid(fromHex('06028001'), readDer(fromHex('06028001'))), 'PKI_DER_MALFORMED');
    assertCode(() => readBitString(fromHex('030108'), readDer(fromHex('030108'))), 'PKI_DER_MALFORMED');
    assertCode(() => readTlv(fromHex('0401'), 0), 'PKI_DER_MALFORMED');
  });
});
