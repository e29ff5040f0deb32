// The shared machinery of the hot-path leaf profiles (workload SVIDs, the CA's serving certificate):
// per-issuer constant DER computed once, serials, validity, common extensions, and signing.
import { createHash, randomFillSync } from 'node:crypto';
import { caUnusable, invalidInput } from '../errors.js';
import { children, expectTag, readBitString, readDer, TAG } from './der-reader.js';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  integer,
  namedBits,
  nullValue,
  octetString,
  oid,
  sequence,
  smallInteger,
  x509Time,
} from './der-writer.js';
import { describeKey, digestFor } from './keys.js';
import { encodePem } from './pem.js';
import type { Issuer } from './types.js';
import { OID, SIGN_WITH } from './x509-oids.js';

/** A freshly issued certificate. */
export interface IssuedCertificate {
  der: Buffer;
  pem: string;
  /** Upper-case hex of the serial's DER content bytes, as CertificateInfo.serialHex has it. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/** What every certificate from one issuer shares, encoded once (see issuerConstants). */
export interface IssuerConstants {
  signatureAlgorithm: Buffer;
  issuerName: Buffer;
  authorityKeyIdExtension: Buffer;
}

/** Backdating absorbs clock skew between the CA and the workloads that check the certificate (Istio does the same). */
export const BACKDATE_MS = 2 * 60 * 1000;

const VERSION_3 = explicit(0, smallInteger(2));
const DIGITAL_SIGNATURE = 0;
const KEY_ENCIPHERMENT = 2;

/** Builds one extension; `value` is the DER that goes inside extnValue's OCTET STRING. */
export function extension(extnId: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(extnId), boolean(true), octetString(value))
    : sequence(oid(extnId), octetString(value));
}

/** keyUsage, critical: digitalSignature, plus keyEncipherment for RSA keys (RSA key exchange in TLS 1.2). */
const KEY_USAGE_SIGN = extension(OID.keyUsage, true, namedBits([DIGITAL_SIGNATURE]));
const KEY_USAGE_SIGN_ENCIPHER = extension(
  OID.keyUsage,
  true,
  namedBits([DIGITAL_SIGNATURE, KEY_ENCIPHERMENT]),
);
/** extKeyUsage serverAuth + clientAuth: mesh workloads are both ends of mutual TLS. */
const EXT_KEY_USAGE_TLS = extension(
  OID.extKeyUsage,
  false,
  sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')),
);
/** basicConstraints CA:FALSE, critical; DER omits the DEFAULT FALSE, so the SEQUENCE is empty. */
const BASIC_CONSTRAINTS_LEAF = extension(OID.basicConstraints, true, sequence());

/** GeneralName choices (RFC 5280 4.2.1.6), all IMPLICIT. */
export const generalName = {
  dns: (name: Uint8Array) => implicit(2, Buffer.from(name)),
  uri: (uri: Uint8Array) => implicit(6, Buffer.from(uri)),
  ip: (bytes: Uint8Array) => implicit(7, Buffer.from(bytes)),
};

export function subjectAltName(names: Buffer[], critical: boolean): Buffer {
  return extension(OID.subjectAltName, critical, sequence(...names));
}

/**
 * The extensions of a TLS leaf (a workload SVID, the CA's serving certificate): keyUsage for the key's
 * type, serverAuth + clientAuth, CA:FALSE, the issuer's key id, then `san` when there is one.
 */
export function leafExtensions(issuer: Issuer, rsaKey: boolean, san?: Buffer): Buffer[] {
  const extensions = [
    rsaKey ? KEY_USAGE_SIGN_ENCIPHER : KEY_USAGE_SIGN,
    EXT_KEY_USAGE_TLS,
    BASIC_CONSTRAINTS_LEAF,
    issuerConstants(issuer).authorityKeyIdExtension,
  ];
  if (san) extensions.push(san);
  return extensions;
}

const constantsByIssuer = new WeakMap<Issuer, IssuerConstants>();

/** The per-issuer DER pieces, computed on first use and kept as long as the Issuer object lives. */
export function issuerConstants(issuer: Issuer): IssuerConstants {
  let constants = constantsByIssuer.get(issuer);
  if (!constants) {
    constants = computeIssuerConstants(issuer);
    constantsByIssuer.set(issuer, constants);
  }
  return constants;
}

function computeIssuerConstants(issuer: Issuer): IssuerConstants {
  const key = issuer.key.publicKey;
  // The algorithm must name what CaKey.sign produces: keys.ts picks the digest by the same rule.
  const digest = digestFor(key);
  let signatureAlgorithm: Buffer;
  if (key.asymmetricKeyType === 'ec') {
    // ECDSA AlgorithmIdentifiers have no parameters (RFC 5758 3.2).
    signatureAlgorithm = sequence(oid(SIGN_WITH[`ec:${digest}`]!));
  } else if (key.asymmetricKeyType === 'rsa') {
    // RSA PKCS#1 v1.5 ones carry an explicit NULL (RFC 4055 5).
    signatureAlgorithm = sequence(oid(SIGN_WITH[`rsa:${digest}`]!), nullValue());
  } else {
    throw caUnusable(
      'PKI_ISSUER_KEY_UNSUPPORTED',
      `the CA key is ${describeKey(key)}; meshca signs certificates with EC (P-256, P-384) or RSA CA keys, so plug in a CA with one of those`,
    );
  }
  const keyId = issuer.certificate.subjectKeyId ?? sha1OfPublicKeyBits(issuer);
  return {
    signatureAlgorithm,
    issuerName: Buffer.from(issuer.certificate.subjectDer),
    // authorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    authorityKeyIdExtension: extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, keyId))),
  };
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value, as OpenSSL does. */
function sha1OfPublicKeyBits(issuer: Issuer): Buffer {
  const spki = issuer.certificate.publicKey.export({ format: 'der', type: 'spki' });
  const [, bits] = children(spki, expectTag(readDer(spki), TAG.SEQUENCE, 'SubjectPublicKeyInfo'));
  return createHash('sha1')
    .update(readBitString(spki, expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey')).bytes)
    .digest();
}

// Serials come from a pool refilled 256 at a time: one call into the CSPRNG instead of one per certificate.
const SERIAL_BYTES = 16;
const serialPool = Buffer.alloc(SERIAL_BYTES * 256);
let serialPoolAt = serialPool.length;

/** 16 random bytes with the top bit cleared (positive, at most 128 bits) and not all zero (RFC 5280 4.1.2.2). */
export function newSerial(): { der: Buffer; hex: string } {
  for (;;) {
    if (serialPoolAt === serialPool.length) {
      randomFillSync(serialPool);
      serialPoolAt = 0;
    }
    const bytes = Buffer.from(serialPool.subarray(serialPoolAt, serialPoolAt + SERIAL_BYTES));
    serialPoolAt += SERIAL_BYTES;
    bytes[0]! &= 0x7f;
    if (bytes.some((b) => b !== 0)) {
      const der = integer(bytes);
      return { der, hex: der.subarray(2).toString('hex').toUpperCase() };
    }
  }
}

/**
 * NotBefore = now − 2 minutes; NotAfter = now + ttl, but never past the issuer's own NotAfter
 * (a leaf outliving its CA would fail verification anyway). Whole seconds, as X.509 stores them.
 */
export function validityWindow(
  now: Date,
  ttlSeconds: number,
  issuerNotAfter: Date,
): { notBefore: Date; notAfter: Date } {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw invalidInput(
      'PKI_TTL_INVALID',
      `the certificate lifetime must be a positive number of seconds; got ${String(ttlSeconds)}`,
    );
  }
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw invalidInput('PKI_TIME_INVALID', 'the issuance time is not a valid date');
  if (issuerNotAfter.getTime() <= nowMs) {
    throw caUnusable(
      'PKI_ISSUER_EXPIRED',
      `the issuing CA certificate expired at ${issuerNotAfter.toISOString()}; plug in a new CA certificate before issuing`,
    );
  }
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  const notBefore = new Date(second(nowMs) - BACKDATE_MS);
  const notAfter = new Date(Math.min(second(nowMs + ttlSeconds * 1000), second(issuerNotAfter.getTime())));
  return { notBefore, notAfter };
}

/** Builds the TBSCertificate for `issuer`, signs it with the issuer's key and wraps it as a Certificate. */
export function signCertificate(opts: {
  issuer: Issuer;
  subject: Buffer;
  spki: Buffer;
  extensions: Buffer[];
  now: Date;
  ttlSeconds: number;
}): IssuedCertificate {
  const { issuer } = opts;
  const constants = issuerConstants(issuer);
  const { notBefore, notAfter } = validityWindow(opts.now, opts.ttlSeconds, issuer.certificate.notAfter);
  const serial = newSerial();
  const tbs = sequence(
    VERSION_3,
    serial.der,
    constants.signatureAlgorithm,
    constants.issuerName,
    sequence(x509Time(notBefore), x509Time(notAfter)),
    opts.subject,
    opts.spki,
    explicit(3, sequence(...opts.extensions)),
  );
  const der = sequence(tbs, constants.signatureAlgorithm, bitString(issuer.key.sign(tbs)));
  return { der, pem: encodePem('CERTIFICATE', der), serialHex: serial.hex, notBefore, notAfter };
}
