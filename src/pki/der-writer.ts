// A minimal DER encoder for the hot path (CSRs and leaf certificates): plain Buffers in, plain
// Buffers out, no ASN.1 object model, so issuing a certificate costs little more than its signature.
import { invalidInput } from '../errors.js';

// Universal tags used by X.509 and PKCS#10.
const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_NULL = 0x05;
const TAG_OID = 0x06;
const TAG_UTF8_STRING = 0x0c;
const TAG_PRINTABLE_STRING = 0x13;
const TAG_IA5_STRING = 0x16;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;

const CLASS_CONTEXT = 0x80;
const CONSTRUCTED = 0x20;

function encodeError(message: string): Error {
  return invalidInput('PKI_DER_ENCODE', `cannot DER-encode ${message}`);
}

function lengthOfLength(length: number): number {
  return length < 0x80 ? 0 : length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4;
}

/** The length octets: short form below 128, otherwise long form with the fewest length bytes. */
export function derLength(length: number): Buffer {
  const extra = lengthOfLength(length);
  const out = Buffer.alloc(1 + extra);
  writeLength(out, 0, length, extra);
  return out;
}

function writeLength(out: Buffer, at: number, length: number, extra: number): void {
  if (extra === 0) {
    out[at] = length;
    return;
  }
  out[at] = 0x80 | extra;
  for (let i = extra; i >= 1; i--) out[at + i] = (length >>> (8 * (extra - i))) & 0xff;
}

/**
 * One TLV with a single-byte tag (all meshca needs: tag numbers below 31). Writes header and
 * contents into one allocation, since this runs a few dozen times per issued certificate.
 */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  let length = 0;
  for (const content of contents) length += content.length;
  const extra = lengthOfLength(length);
  const out = Buffer.allocUnsafe(2 + extra + length);
  out[0] = tag;
  writeLength(out, 1, length, extra);
  let at = 2 + extra;
  for (const content of contents) {
    out.set(content, at);
    at += content.length;
  }
  return out;
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(TAG_SEQUENCE, ...items);
}

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export function setOf(...items: Buffer[]): Buffer {
  return tlv(TAG_SET, ...[...items].sort(Buffer.compare));
}

/** Raw concatenation of already-encoded pieces. */
export function concat(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

/** A non-negative INTEGER from big-endian magnitude bytes (a serial number, a version). */
export function integer(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = Buffer.from(magnitude.buffer, magnitude.byteOffset + start, magnitude.length - start);
  if (trimmed.length === 0) return Buffer.from([TAG_INTEGER, 1, 0]);
  // A set top bit would make it negative in two's complement: prefix a zero byte.
  return (trimmed[0]! & 0x80) !== 0 ? tlv(TAG_INTEGER, Buffer.from([0]), trimmed) : tlv(TAG_INTEGER, trimmed);
}

/** A small non-negative INTEGER (versions, path lengths). */
export function smallInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw encodeError(`${value} as a non-negative INTEGER`);
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.unshift(rest % 256);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  return integer(Buffer.from(bytes));
}

// OIDs are a small fixed vocabulary (the ones in this codebase), so caching their encodings is bounded.
const oidCache = new Map<string, Buffer>();
const OID_CACHE_LIMIT = 512;

/** An OBJECT IDENTIFIER from its dotted form, e.g. `2.5.29.17`. */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.').map((arc) => (/^(0|[1-9][0-9]*)$/.test(arc) ? BigInt(arc) : -1n));
  const [first, second] = arcs;
  if (
    arcs.length < 2 ||
    arcs.some((arc) => arc < 0n) ||
    first === undefined ||
    second === undefined ||
    first > 2n ||
    (first < 2n && second > 39n)
  ) {
    throw encodeError(`"${dotted}" as an OBJECT IDENTIFIER (expected dotted decimal such as 2.5.29.17)`);
  }
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...arcs.slice(2)]) {
    // Base-128, most significant group first, continuation bit on all but the last.
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) groups.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...groups);
  }
  const encoded = tlv(TAG_OID, Buffer.from(bytes));
  if (oidCache.size < OID_CACHE_LIMIT) oidCache.set(dotted, encoded);
  return encoded;
}

const DER_TRUE = Buffer.from([TAG_BOOLEAN, 1, 0xff]);
const DER_FALSE = Buffer.from([TAG_BOOLEAN, 1, 0x00]);
const DER_NULL = Buffer.from([TAG_NULL, 0]);

export function boolean(value: boolean): Buffer {
  return value ? DER_TRUE : DER_FALSE;
}

export function nullValue(): Buffer {
  return DER_NULL;
}

/** A BIT STRING of whole bytes (keys, signatures) or with `unusedBits` trailing bits unused. */
export function bitString(content: Uint8Array, unusedBits = 0): Buffer {
  if (
    !Number.isInteger(unusedBits) ||
    unusedBits < 0 ||
    unusedBits > 7 ||
    (content.length === 0 && unusedBits)
  ) {
    throw encodeError(`a BIT STRING with ${unusedBits} unused bits`);
  }
  return tlv(TAG_BIT_STRING, Buffer.from([unusedBits]), content);
}

/**
 * A named-bit BIT STRING (keyUsage): bit 0 is the most significant bit of the first byte, and
 * DER drops trailing zero bits (X.690 11.2.2), which is why `unusedBits` is computed here.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const content = Buffer.alloc((highest >> 3) + 1);
  for (const bit of bits) content[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(content, 7 - (highest & 7));
}

export function octetString(content: Uint8Array): Buffer {
  return tlv(TAG_OCTET_STRING, content);
}

export function utf8String(value: string): Buffer {
  return tlv(TAG_UTF8_STRING, Buffer.from(value, 'utf8'));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function printableString(value: string): Buffer {
  if (!PRINTABLE.test(value)) throw encodeError(`"${value}" as a PrintableString (use a UTF8String)`);
  return tlv(TAG_PRINTABLE_STRING, Buffer.from(value, 'latin1'));
}

const IA5 = /^[\x00-\x7f]*$/;

/** The bytes of an IA5String (7-bit ASCII); SAN entries carry them under an implicit tag. */
export function ia5Bytes(value: string, what = 'an IA5String'): Buffer {
  if (!IA5.test(value)) throw encodeError(`"${value}" as ${what}: only 7-bit ASCII is allowed`);
  return Buffer.from(value, 'latin1');
}

export function ia5String(value: string): Buffer {
  return tlv(TAG_IA5_STRING, ia5Bytes(value));
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function timeDigits(date: Date): string {
  return (
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds())
  );
}

function checkDate(date: Date): number {
  const year = date.getUTCFullYear();
  if (Number.isNaN(year) || year < 1950 || year > 9999) throw encodeError(`the date ${String(date)}`);
  return year;
}

/** UTCTime `YYMMDDHHMMSSZ` (seconds always present, milliseconds dropped), for 1950–2049. */
export function utcTime(date: Date): Buffer {
  const year = checkDate(date);
  if (year >= 2050)
    throw encodeError(`${date.toISOString()} as UTCTime (years from 2050 need GeneralizedTime)`);
  return tlv(TAG_UTC_TIME, Buffer.from(two(year % 100) + timeDigits(date) + 'Z', 'latin1'));
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ` without fractional seconds, as RFC 5280 4.1.2.5.2 requires. */
export function generalizedTime(date: Date): Buffer {
  const year = checkDate(date);
  return tlv(TAG_GENERALIZED_TIME, Buffer.from(String(year) + timeDigits(date) + 'Z', 'latin1'));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on. */
export function x509Time(date: Date): Buffer {
  return checkDate(date) < 2050 ? utcTime(date) : generalizedTime(date);
}

/** `[n] EXPLICIT`: a constructed context tag wrapping complete encodings. */
export function explicit(tagNumber: number, ...contents: Buffer[]): Buffer {
  return tlv(CLASS_CONTEXT | CONSTRUCTED | checkTagNumber(tagNumber), ...contents);
}

/**
 * `[n] IMPLICIT`: the context tag replaces the universal one, so pass the value bytes (primitive)
 * or the inner encodings (constructed, e.g. a SET OF).
 */
export function implicit(tagNumber: number, content: Buffer, constructed = false): Buffer {
  return tlv(CLASS_CONTEXT | (constructed ? CONSTRUCTED : 0) | checkTagNumber(tagNumber), content);
}

function checkTagNumber(tagNumber: number): number {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) {
    throw encodeError(`context tag [${tagNumber}] (only 0–30 are supported)`);
  }
  return tagNumber;
}
