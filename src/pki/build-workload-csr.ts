// The CSR a workload agent sends, shaped like Istio's agent makes it: empty subject, one critical
// URI subjectAltName (the SPIFFE ID) in an extensionRequest, signed with the workload's own key.
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import { invalidInput } from '../errors.js';
import {
  bitString,
  boolean,
  ia5Bytes,
  implicit,
  nullValue,
  octetString,
  oid,
  sequence,
  setOf,
  smallInteger,
} from './der-writer.js';
import { encodePem } from './pem.js';
import { OID } from './x509-oids.js';

const EMPTY_NAME = sequence();
const SAN_URI_TAG = 6;

/** The digest and signature AlgorithmIdentifier that fit the key, as the CA's verifier expects them. */
function signatureSpec(key: KeyObject): { digest: string | null; algorithm: Buffer } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const [digest, algOid] =
        curve === 'secp384r1'
          ? ['sha384', '1.2.840.10045.4.3.3']
          : curve === 'secp521r1'
            ? ['sha512', '1.2.840.10045.4.3.4']
            : ['sha256', '1.2.840.10045.4.3.2'];
      // ECDSA AlgorithmIdentifiers have no parameters at all (RFC 5758 3.2).
      return { digest, algorithm: sequence(oid(algOid)) };
    }
    case 'rsa':
      // RSA ones carry an explicit NULL (RFC 4055 5).
      return { digest: 'sha256', algorithm: sequence(oid('1.2.840.113549.1.1.11'), nullValue()) };
    case 'ed25519':
      return { digest: null, algorithm: sequence(oid(OID.ed25519)) };
    default:
      throw invalidInput(
        'PKI_KEY_UNSUPPORTED',
        `cannot make a CSR with a ${key.asymmetricKeyType} key; use an EC (P-256, P-384), RSA or Ed25519 key`,
      );
  }
}

/**
 * PKCS#10 PEM (`CERTIFICATE REQUEST`) for `uri`, signed by `key`. The URI is not checked as a
 * SPIFFE ID here: the CA is the judge of identities, and tests need to send it wrong ones.
 */
export function buildWorkloadCsr(opts: { key: KeyObject; uri: string }): string {
  const { key, uri } = opts;
  if (key.type !== 'private') {
    throw invalidInput('PKI_KEY_UNSUPPORTED', 'a CSR is signed with the private key; pass the private key');
  }
  if (uri === '')
    throw invalidInput('PKI_CSR_URI_INVALID', 'the CSR needs a URI (the SPIFFE ID); it is empty');
  const { digest, algorithm } = signatureSpec(key);
  const uriBytes = ia5Bytes(uri, 'a URI subjectAltName');
  // The subject is empty, so RFC 5280 4.2.1.6 makes the subjectAltName critical.
  const san = sequence(
    oid(OID.subjectAltName),
    boolean(true),
    octetString(sequence(implicit(SAN_URI_TAG, uriBytes))),
  );
  const extensionRequest = sequence(oid(OID.extensionRequest), setOf(sequence(san)));
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const info = sequence(
    smallInteger(0),
    EMPTY_NAME,
    spki,
    // attributes [0] IMPLICIT SET OF Attribute: the context tag replaces the SET's, around one attribute.
    implicit(0, extensionRequest, true),
  );
  const signature = sign(digest, info, key);
  return encodePem('CERTIFICATE REQUEST', sequence(info, algorithm, bitString(signature)));
}
