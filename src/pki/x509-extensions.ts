// X.509 v3 extensions of the cold path: reading the ones meshca looks at from pkijs's parse, and
// building the ones CA certificates and CA requests carry.
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { invalidInput } from '../errors.js';
import { formatIp } from './ip-address.js';
import type { ExtensionFacts } from './types.js';
import { EXT_KEY_USAGE_NAMES, KEY_USAGE_NAMES, OID } from './x509-oids.js';

/** A standalone ArrayBuffer copy: pkijs/asn1js want BufferSource, which a pooled Node Buffer is not. */
export function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function bitIsSet(bits: asn1js.BitString, index: number): boolean {
  const bytes = bits.valueBlock.valueHexView;
  return ((bytes[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}

/** Reads the extensions meshca cares about; a malformed one is an error naming `source`. */
export function readExtensions(extensions: pkijs.Extension[] | undefined, source: string): ExtensionFacts {
  const facts: ExtensionFacts = {
    isCa: undefined,
    basicConstraintsCritical: false,
    pathLen: undefined,
    keyUsage: undefined,
    keyUsageCritical: false,
    extKeyUsage: undefined,
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    uris: [],
    dnsNames: [],
    ips: [],
    emails: [],
    sanCritical: false,
  };
  const malformed = (what: string) =>
    invalidInput(
      'PKI_CERT_MALFORMED',
      `${source}: the ${what} extension is malformed; re-issue the certificate`,
    );
  for (const ext of extensions ?? []) {
    const value = ext.parsedValue as unknown;
    if (value && typeof value === 'object' && 'parsingError' in value) throw malformed(ext.extnID);
    switch (ext.extnID) {
      case OID.basicConstraints: {
        if (!(value instanceof pkijs.BasicConstraints)) throw malformed('basicConstraints');
        facts.isCa = value.cA === true;
        facts.basicConstraintsCritical = ext.critical;
        const len = value.pathLenConstraint;
        if (typeof len === 'number') facts.pathLen = len;
        else if (len instanceof asn1js.Integer) facts.pathLen = Number.MAX_SAFE_INTEGER;
        break;
      }
      case OID.keyUsage: {
        if (!(value instanceof asn1js.BitString)) throw malformed('keyUsage');
        facts.keyUsage = KEY_USAGE_NAMES.filter((_, i) => bitIsSet(value, i));
        facts.keyUsageCritical = ext.critical;
        break;
      }
      case OID.extKeyUsage: {
        if (!(value instanceof pkijs.ExtKeyUsage)) throw malformed('extKeyUsage');
        facts.extKeyUsage = value.keyPurposes.map((oid) => EXT_KEY_USAGE_NAMES[oid] ?? oid);
        break;
      }
      case OID.subjectKeyIdentifier: {
        if (!(value instanceof asn1js.OctetString)) throw malformed('subjectKeyIdentifier');
        facts.subjectKeyId = Buffer.from(value.valueBlock.valueHexView);
        break;
      }
      case OID.authorityKeyIdentifier: {
        if (!(value instanceof pkijs.AuthorityKeyIdentifier)) throw malformed('authorityKeyIdentifier');
        const keyId = value.keyIdentifier;
        if (keyId) facts.authorityKeyId = Buffer.from(keyId.valueBlock.valueHexView);
        break;
      }
      case OID.subjectAltName: {
        if (!(value instanceof pkijs.AltName)) throw malformed('subjectAltName');
        facts.sanCritical = ext.critical;
        for (const name of value.altNames) {
          if (name.type === 1) facts.emails.push(String(name.value));
          else if (name.type === 2) facts.dnsNames.push(String(name.value));
          else if (name.type === 6) facts.uris.push(String(name.value));
          else if (name.type === 7 && name.value instanceof asn1js.OctetString) {
            const bytes = name.value.valueBlock.valueHexView;
            facts.ips.push(formatIp(bytes) ?? `#${Buffer.from(bytes).toString('hex')}`);
          }
        }
        break;
      }
    }
  }
  return facts;
}

/** The SHA-1 of the public key bits (RFC 5280 4.2.1.2 method 1), as OpenSSL's `subjectKeyIdentifier=hash`. */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  const spki = pkijs.PublicKeyInfo.fromBER(arrayBufferOf(spkiDer));
  return createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest();
}

function extension(extnID: string, critical: boolean, value: { toBER(sizeOnly?: boolean): ArrayBuffer }) {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

export function basicConstraintsExtension(pathLen: number | undefined): pkijs.Extension {
  const bc = new pkijs.BasicConstraints(
    pathLen === undefined ? { cA: true } : { cA: true, pathLenConstraint: pathLen },
  );
  return extension(OID.basicConstraints, true, bc.toSchema());
}

/** keyUsage as a DER BIT STRING: trailing zero bits are dropped, as DER requires. */
export function keyUsageExtension(names: readonly (typeof KEY_USAGE_NAMES)[number][]): pkijs.Extension {
  const bits = names.map((n) => KEY_USAGE_NAMES.indexOf(n));
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  const unusedBits = 7 - (highest & 7);
  return extension(OID.keyUsage, true, new asn1js.BitString({ valueHex: bytes, unusedBits }));
}

export function subjectKeyIdExtension(keyId: Uint8Array): pkijs.Extension {
  return extension(
    OID.subjectKeyIdentifier,
    false,
    new asn1js.OctetString({ valueHex: arrayBufferOf(keyId) }),
  );
}

export function authorityKeyIdExtension(keyId: Uint8Array): pkijs.Extension {
  const aki = new pkijs.AuthorityKeyIdentifier({
    keyIdentifier: new asn1js.OctetString({ valueHex: arrayBufferOf(keyId) }),
  });
  return extension(OID.authorityKeyIdentifier, false, aki.toSchema());
}

const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/** subjectAltName with DNS names, non-critical (a CA certificate always has a subject). */
export function dnsSanExtension(dnsNames: readonly string[]): pkijs.Extension {
  for (const name of dnsNames) {
    if (!DNS_NAME.test(name) || name.length > 253) {
      throw invalidInput(
        'PKI_DNS_NAME_INVALID',
        `"${name}" is not a valid DNS name; use letters, digits, "-" and dots, e.g. istiod.istio-system.svc`,
      );
    }
  }
  const san = new pkijs.AltName({
    altNames: dnsNames.map((value) => new pkijs.GeneralName({ type: 2, value })),
  });
  return extension(OID.subjectAltName, false, san.toSchema());
}
