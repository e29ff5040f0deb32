// A minimal DER TLV reader: enough to walk a PKCS#10 request (or an SPKI) without an ASN.1 object
// model. It checks every length against its container and refuses what DER does not allow.
import { invalidInput } from '../errors.js';

/** One TLV inside `buf`: offsets, not copies, so reading costs no allocation. */
export interface DerNode {
  /** The identifier octet, e.g. 0x30 for SEQUENCE, 0xa0 for [0] constructed. */
  tag: number;
  constructed: boolean;
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  tagClass: number;
  tagNumber: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content byte. */
  valueStart: number;
  /** Offset just past the last content byte. */
  end: number;
  length: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function malformed(detail: string): Error {
  return invalidInput('PKI_DER_MALFORMED', `malformed DER: ${detail}`);
}

/** Reads the TLV that starts at `offset` and must end by `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): DerNode {
  if (offset + 2 > limit) throw malformed(`truncated header at offset ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw malformed(`high-tag-number form at offset ${offset} is not supported`);
  let length = buf[offset + 1]!;
  let valueStart = offset + 2;
  if (length === 0x80) throw malformed(`indefinite length at offset ${offset} (BER, not DER)`);
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4) throw malformed(`length of ${count} bytes at offset ${offset} is too long`);
    if (valueStart + count > limit) throw malformed(`truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[valueStart + i]!;
    // DER uses the fewest length octets: long form only from 128, no leading zero byte.
    if (length < 0x80 || buf[valueStart] === 0) throw malformed(`non-minimal length at offset ${offset}`);
    valueStart += count;
  }
  const end = valueStart + length;
  if (end > limit) {
    throw malformed(`value at offset ${offset} claims ${length} bytes but only ${limit - valueStart} remain`);
  }
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    tagClass: tag >> 6,
    tagNumber: tag & 0x1f,
    start: offset,
    valueStart,
    end,
    length,
  };
}

/** Reads `buf` as exactly one TLV: trailing bytes are refused. */
export function readDer(buf: Uint8Array): DerNode {
  const node = readTlv(buf, 0);
  if (node.end !== buf.length)
    throw malformed(`${buf.length - node.end} trailing bytes after the outer value`);
  return node;
}

/** The TLVs inside a constructed node, which must fill it exactly. */
export function children(buf: Uint8Array, node: DerNode): DerNode[] {
  if (!node.constructed)
    throw malformed(`primitive tag 0x${hex(node.tag)} at offset ${node.start} has no children`);
  const out: DerNode[] = [];
  for (let at = node.valueStart; at < node.end; ) {
    const child = readTlv(buf, at, node.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** Fails unless `node` has the given identifier octet; `what` names it in the message. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw malformed(`${what} is missing`);
  if (node.tag !== tag) {
    throw malformed(`${what} has tag 0x${hex(node.tag)} at offset ${node.start}, expected 0x${hex(tag)}`);
  }
  return node;
}

/** The content bytes (a view, not a copy). */
export function contentOf(buf: Uint8Array, node: DerNode): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + node.valueStart, node.length);
}

/** The whole TLV, header included (a view, not a copy). */
export function encodingOf(buf: Uint8Array, node: DerNode): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + node.start, node.end - node.start);
}

/** The longest OBJECT IDENTIFIER read: a 2.25 UUID OID takes 20 content bytes. */
export const MAX_OID_BYTES = 256;

/** An OBJECT IDENTIFIER's dotted form. */
export function readOid(buf: Uint8Array, node: DerNode): string {
  expectTag(node, TAG.OID, 'OBJECT IDENTIFIER');
  if (node.length === 0) throw malformed(`empty OBJECT IDENTIFIER at offset ${node.start}`);
  // Reading an arc is quadratic in its length (a BigInt grows by 7 bits per byte), so a
  // megabyte-long one would stall the event loop; real OIDs, UUID ones included, are far shorter.
  if (node.length > MAX_OID_BYTES) {
    throw malformed(
      `OBJECT IDENTIFIER at offset ${node.start} is ${node.length} bytes long; meshca reads at most ${MAX_OID_BYTES}`,
    );
  }
  const arcs: string[] = [];
  let arc = 0n;
  let first = true;
  for (let i = node.valueStart; i < node.end; i++) {
    const byte = buf[i]!;
    // A leading 0x80 would be a non-minimal sub-identifier.
    if (arc === 0n && byte === 0x80) throw malformed(`non-minimal OBJECT IDENTIFIER at offset ${node.start}`);
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    if (byte & 0x80) continue;
    if (first) {
      const top = arc < 80n ? arc / 40n : 2n;
      arcs.push(String(top), String(arc - top * 40n));
      first = false;
    } else {
      arcs.push(String(arc));
    }
    arc = 0n;
  }
  if (buf[node.end - 1]! & 0x80) throw malformed(`truncated OBJECT IDENTIFIER at offset ${node.start}`);
  return arcs.join('.');
}

/** A BOOLEAN; DER allows only 0x00 and 0xff. */
export function readBoolean(buf: Uint8Array, node: DerNode): boolean {
  expectTag(node, TAG.BOOLEAN, 'BOOLEAN');
  const byte = buf[node.valueStart];
  if (node.length !== 1 || (byte !== 0 && byte !== 0xff)) {
    throw malformed(`BOOLEAN at offset ${node.start} is not 0x00 or 0xff`);
  }
  return byte === 0xff;
}

/** A small non-negative INTEGER (a version, a path length). */
export function readSmallInteger(buf: Uint8Array, node: DerNode): number {
  expectTag(node, TAG.INTEGER, 'INTEGER');
  const bytes = contentOf(buf, node);
  if (bytes.length === 0 || bytes.length > 6)
    throw malformed(`INTEGER at offset ${node.start} has a bad size`);
  if (bytes[0]! & 0x80) throw malformed(`INTEGER at offset ${node.start} is negative`);
  if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) {
    throw malformed(`non-minimal INTEGER at offset ${node.start}`);
  }
  return bytes.readUIntBE(0, bytes.length);
}

/** A BIT STRING's unused-bit count and content bytes. */
export function readBitString(buf: Uint8Array, node: DerNode): { unusedBits: number; bytes: Buffer } {
  expectTag(node, TAG.BIT_STRING, 'BIT STRING');
  const unusedBits = buf[node.valueStart];
  if (unusedBits === undefined || unusedBits > 7 || (node.length === 1 && unusedBits !== 0)) {
    throw malformed(`BIT STRING at offset ${node.start} has a bad unused-bits count`);
  }
  return {
    unusedBits,
    bytes: Buffer.from(buf.buffer, buf.byteOffset + node.valueStart + 1, node.length - 1),
  };
}

/** The text of any of the string types X.500 names use. */
export function readString(buf: Uint8Array, node: DerNode): string {
  const bytes = contentOf(buf, node);
  switch (node.tag) {
    case TAG.UTF8_STRING:
      return bytes.toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.NUMERIC_STRING:
    case TAG.VISIBLE_STRING:
    case TAG.TELETEX_STRING: // T.61 in theory; in practice Latin-1 is what is written
      return bytes.toString('latin1');
    case TAG.BMP_STRING:
      if (bytes.length % 2) throw malformed(`BMPString at offset ${node.start} has an odd length`);
      return Buffer.from(bytes).swap16().toString('utf16le');
    case TAG.UNIVERSAL_STRING: {
      if (bytes.length % 4) throw malformed(`UniversalString at offset ${node.start} has a bad length`);
      let out = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const point = bytes.readUInt32BE(i);
        if (point > 0x10ffff) throw malformed(`UniversalString at offset ${node.start} is not Unicode`);
        out += String.fromCodePoint(point);
      }
      return out;
    }
    default:
      throw malformed(`tag 0x${hex(node.tag)} at offset ${node.start} is not a string type`);
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
