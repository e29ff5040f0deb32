// What every leaf from one issuer shares (signature algorithm, issuer name, authority key id),
// encoded once per Issuer object rather than once per certificate.
import { createHash } from 'node:crypto';
import { caUnusable } from '../errors.js';
import { extension } from './certificate-extension.js';
import { children, expectTag, readBitString, readDer, TAG } from './der-reader.js';
import { implicit, nullValue, oid, sequence } from './der-writer.js';
import { describeKey, digestFor } from './keys.js';
import type { Issuer } from './types.js';
import { OID, SIGN_WITH } from './x509-oids.js';

export interface IssuerConstants {
  signatureAlgorithm: Buffer;
  issuerName: Buffer;
  authorityKeyIdExtension: Buffer;
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
