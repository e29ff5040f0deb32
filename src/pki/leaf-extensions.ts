// The extensions of a TLS leaf (a workload SVID, the CA's serving certificate), the constant ones
// encoded once at load time.
import { extension } from './certificate-extension.js';
import { implicit, namedBits, oid, sequence } from './der-writer.js';
import { issuerConstants } from './issuer-constants.js';
import type { Issuer } from './types.js';
import { OID } from './x509-oids.js';

const DIGITAL_SIGNATURE = 0;
const KEY_ENCIPHERMENT = 2;

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
 * keyUsage for the key's type, serverAuth + clientAuth, CA:FALSE, the issuer's key id, then `san`
 * when there is one.
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
