// PKCS#10 requests with arbitrary contents, signed for real, for the CSR and server fuzz tests: a
// request whose signature verifies gets past the last check, so what it carries is parsed for real.
import { constants, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import fc from 'fast-check';
import {
  bitString,
  boolean,
  explicit,
  ia5String,
  implicit,
  namedBits,
  nullValue,
  octetString,
  oid,
  printableString,
  sequence,
  setOf,
  smallInteger,
  utf8String,
} from '../../src/pki/der-writer.js';
import { formatAttribute } from '../../src/pki/format-attribute.js';
import { OID } from '../../src/pki/x509-oids.js';

export interface CsrKey {
  name: string;
  key: KeyObject;
  spki: Buffer;
  /** The signatureAlgorithm AlgorithmIdentifier. */
  algorithm: Buffer;
  sign(data: Buffer): Buffer;
}

const SHA256 = sequence(oid('2.16.840.1.101.3.4.2.1'), nullValue());

function csrKey(name: string, key: KeyObject, algorithm: Buffer, signer: (data: Buffer) => Buffer): CsrKey {
  return {
    name,
    key,
    spki: createPublicKey(key).export({ format: 'der', type: 'spki' }),
    algorithm,
    sign: signer,
  };
}

/** One key of each kind the parser accepts (RSA-PSS with explicit SHA-256 parameters). */
export function makeCsrKeys(): CsrKey[] {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
  const pssParams = sequence(
    explicit(0, SHA256),
    explicit(1, sequence(oid('1.2.840.113549.1.1.8'), SHA256)),
    explicit(2, smallInteger(32)),
  );
  return [
    csrKey('EC P-256', p256, sequence(oid('1.2.840.10045.4.3.2')), (d) => sign('sha256', d, p256)),
    csrKey('EC P-384', p384, sequence(oid('1.2.840.10045.4.3.3')), (d) => sign('sha384', d, p384)),
    csrKey('RSA 2048', rsa, sequence(oid('1.2.840.113549.1.1.11'), nullValue()), (d) =>
      sign('sha256', d, rsa),
    ),
    csrKey('Ed25519', ed, sequence(oid(OID.ed25519)), (d) => sign(null, d, ed)),
    // An RSA key signing RSA-PSS, as the parser allows; an rsa-pss SPKI is tried too.
    csrKey('RSA-PSS', rsa, sequence(oid(OID.rsassaPss), pssParams), (d) =>
      sign('sha256', d, { key: rsa, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
    ),
    csrKey('RSA-PSS key', pss, sequence(oid(OID.rsassaPss), pssParams), (d) =>
      sign('sha256', d, { key: pss, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
    ),
  ];
}

/** A CertificationRequest around `info` (any bytes), signed by `key`. */
export function signCsr(info: Buffer, key: CsrKey): Buffer {
  return sequence(info, key.algorithm, bitString(key.sign(info)));
}

export interface CsrContents {
  subject: { type: string; tag: 'utf8' | 'printable' | 'ia5'; value: string }[][];
  uris: string[];
  dnsNames: string[];
  emails: string[];
  ips: Uint8Array[];
  ca: boolean | undefined;
  keyCertSign: boolean | undefined;
  critical: boolean | undefined;
}

const ascii = (maxLength: number) => fc.string({ unit: 'binary-ascii', maxLength });
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]{0,20}$/;

export const csrContents: fc.Arbitrary<CsrContents> = fc.record({
  subject: fc.array(
    fc.array(
      fc.oneof(
        fc.record({
          type: fc.constantFrom('2.5.4.3', '2.5.4.10', '2.5.4.11', '1.2.3.4.5'),
          tag: fc.constant('utf8' as const),
          value: fc.string({ unit: 'grapheme', maxLength: 20 }),
        }),
        fc.record({
          type: fc.constantFrom('2.5.4.3', '2.5.4.6'),
          tag: fc.constant('printable' as const),
          value: fc.stringMatching(PRINTABLE),
        }),
        fc.record({
          type: fc.constant('1.2.840.113549.1.9.1'),
          tag: fc.constant('ia5' as const),
          value: ascii(20),
        }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
    { maxLength: 3 },
  ),
  uris: fc.array(ascii(60), { maxLength: 3 }),
  dnsNames: fc.array(ascii(30), { maxLength: 3 }),
  emails: fc.array(ascii(30), { maxLength: 2 }),
  ips: fc.array(
    fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
    {
      maxLength: 2,
    },
  ),
  ca: fc.option(fc.boolean(), { nil: undefined }),
  keyCertSign: fc.option(fc.boolean(), { nil: undefined }),
  critical: fc.option(fc.boolean(), { nil: undefined }),
});

function extension(id: string, critical: boolean | undefined, value: Buffer): Buffer {
  return critical === undefined
    ? sequence(oid(id), octetString(value))
    : sequence(oid(id), boolean(critical), octetString(value));
}

const STRING_ENCODERS = { utf8: utf8String, printable: printableString, ia5: ia5String };

type Atv = CsrContents['subject'][number][number];
const atvDer = (atv: Atv) => sequence(oid(atv.type), STRING_ENCODERS[atv.tag](atv.value));
/** An RDN's values in DER's SET OF order, which is the order they are read back in. */
const setOrder = (rdn: Atv[]) => [...rdn].sort((a, b) => Buffer.compare(atvDer(a), atvDer(b)));

/** The certificationRequestInfo that carries `c` for `key`. */
export function requestInfo(c: CsrContents, key: CsrKey): Buffer {
  const subject = sequence(...c.subject.map((rdn) => setOf(...rdn.map(atvDer))));
  const names = [
    ...c.emails.map((e) => implicit(1, Buffer.from(e, 'latin1'))),
    ...c.dnsNames.map((d) => implicit(2, Buffer.from(d, 'latin1'))),
    ...c.uris.map((u) => implicit(6, Buffer.from(u, 'latin1'))),
    ...c.ips.map((ip) => implicit(7, Buffer.from(ip))),
  ];
  const extensions: Buffer[] = [];
  if (names.length > 0) extensions.push(extension(OID.subjectAltName, c.critical, sequence(...names)));
  if (c.ca !== undefined) extensions.push(extension(OID.basicConstraints, true, sequence(boolean(c.ca))));
  if (c.keyCertSign !== undefined) {
    extensions.push(extension(OID.keyUsage, true, namedBits(c.keyCertSign ? [0, 5] : [0, 2])));
  }
  const attributes =
    extensions.length === 0
      ? Buffer.alloc(0)
      : sequence(oid(OID.extensionRequest), setOf(sequence(...extensions)));
  return sequence(smallInteger(0), subject, key.spki, implicit(0, attributes, true));
}

/** The one-line subject the parser is expected to print. */
export function expectedSubject(c: CsrContents): string {
  return c.subject
    .map((rdn) =>
      setOrder(rdn)
        .map((atv) => formatAttribute(atv.type, atv.value))
        .join('+'),
    )
    .join(', ');
}
