// Distinguished names for the X.509 cold path: the one-line form meshca prints, the comparison
// chains are built by (OpenSSL-like: case and inner spaces do not matter), and encoding a NameSpec.
import * as asn1js from 'asn1js';
import { invalidInput } from '../errors.js';
import { formatAttribute } from './format-attribute.js';
import type { NameSpec } from './types.js';
import { NAME_SPEC_ATTRIBUTES } from './x509-oids.js';

interface Attribute {
  oid: string;
  /** The decoded text, or undefined when the value is not a string type. */
  text: string | undefined;
  /** DER of the value, for values that are not strings. */
  der: Uint8Array;
}

/** The RDNs of a DER Name, each a list of attributes (more than one for a multi-valued RDN). */
function readRdns(der: Uint8Array): Attribute[][] {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) {
    throw invalidInput('PKI_NAME_MALFORMED', 'a distinguished name is not valid DER');
  }
  return parsed.result.valueBlock.value.map((rdn) => {
    if (!(rdn instanceof asn1js.Set)) {
      throw invalidInput(
        'PKI_NAME_MALFORMED',
        'a distinguished name holds something other than a SET of attributes',
      );
    }
    return rdn.valueBlock.value.map((atv) => {
      const [type, value] = atv instanceof asn1js.Sequence ? atv.valueBlock.value : [];
      if (!(type instanceof asn1js.ObjectIdentifier) || !value) {
        throw invalidInput('PKI_NAME_MALFORMED', 'a distinguished name attribute is not (OID, value)');
      }
      const text = value instanceof asn1js.BaseStringBlock ? value.getValue() : undefined;
      return { oid: type.getValue(), text, der: new Uint8Array(value.toBER(false)) };
    });
  });
}

/** `O=Istio, CN=Root CA, L=cluster1`, in the certificate's RDN order; `` for an empty name. */
export function formatName(der: Uint8Array): string {
  return readRdns(der)
    .map((rdn) => rdn.map((a) => formatAttribute(a.oid, a.text ?? a.der)).join('+'))
    .join(', ');
}

/**
 * A canonical key for comparing names the way OpenSSL does when it looks for an issuer: string
 * values compare case-insensitively with runs of spaces folded, whatever their ASN.1 string type.
 */
export function canonicalName(der: Uint8Array): string {
  const rdns = readRdns(der).map((rdn) =>
    rdn
      .map((a) =>
        a.text === undefined
          ? `${a.oid}#${Buffer.from(a.der).toString('hex')}`
          : `${a.oid}=${a.text.trim().replace(/\s+/g, ' ').toLowerCase()}`,
      )
      .sort(),
  );
  return JSON.stringify(rdns);
}

/** True when two DER names denote the same entity (byte-equal, or equal once canonicalised). */
export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0) return true;
  try {
    return canonicalName(a) === canonicalName(b);
  } catch {
    return false;
  }
}

/** DER of a NameSpec: one RDN per attribute, UTF8String values, in the order O, CN, L, OU. */
export function encodeNameSpec(spec: NameSpec, what = 'subject'): Buffer {
  const rdns: asn1js.Set[] = [];
  for (const [key, oid] of NAME_SPEC_ATTRIBUTES) {
    const value = spec[key];
    if (value === undefined) continue;
    if (value.trim() === '') {
      throw invalidInput(
        'PKI_NAME_INVALID',
        `the ${what} attribute ${key} is empty; give it a value or leave it out`,
      );
    }
    rdns.push(
      new asn1js.Set({
        value: [
          new asn1js.Sequence({
            value: [new asn1js.ObjectIdentifier({ value: oid }), new asn1js.Utf8String({ value })],
          }),
        ],
      }),
    );
  }
  if (rdns.length === 0) {
    throw invalidInput(
      'PKI_NAME_INVALID',
      `the ${what} is empty; a CA certificate needs a name, e.g. O=Istio and CN=Root CA`,
    );
  }
  return Buffer.from(new asn1js.Sequence({ value: rdns }).toBER(false));
}
