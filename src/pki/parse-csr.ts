// Reads a PKCS#10 request on the hot path with the lean DER reader, and refuses it unless its
// signature verifies with its own public key (proof that the sender holds the private key).
import { constants, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { invalidInput, isMeshcaError } from '../errors.js';
import {
  children,
  contentOf,
  type DerNode,
  encodingOf,
  expectTag,
  readBitString,
  readBoolean,
  readDer,
  readOid,
  readSmallInteger,
  readString,
  TAG,
} from './der-reader.js';
import { formatAttribute } from './format-attribute.js';
import { formatIp } from './ip-address.js';
import { describeKey } from './keys.js';
import { decodePem } from './pem.js';
import type { ParsedCsr } from './types.js';
import { HASH_ALGORITHMS, OID, SIGNATURE_ALGORITHMS } from './x509-oids.js';

type Family = 'ecdsa' | 'rsa' | 'pss' | 'eddsa';

/** The signature algorithms a CSR may use: the family checks the key fits, the hash is what is verified. */
const VERIFIABLE: Readonly<Record<string, { family: Family; hash: string | null }>> = {
  '1.2.840.10045.4.3.2': { family: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { family: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { family: 'ecdsa', hash: 'sha512' },
  '1.2.840.113549.1.1.11': { family: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { family: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { family: 'rsa', hash: 'sha512' },
  [OID.rsassaPss]: { family: 'pss', hash: null },
  [OID.ed25519]: { family: 'eddsa', hash: null },
};

const KEY_FAMILIES: Readonly<Record<string, Family>> = {
  ec: 'ecdsa',
  rsa: 'rsa',
  'rsa-pss': 'pss',
  ed25519: 'eddsa',
};

const STRONG_HASHES = new Set(['sha256', 'sha384', 'sha512']);
const CURVE_BITS: Readonly<Record<string, number>> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };
const MGF1 = '1.2.840.113549.1.1.8';

function malformed(detail: string, cause?: unknown): Error {
  return invalidInput('PKI_CSR_MALFORMED', `the CSR is not a valid PKCS#10 request: ${detail}`, cause);
}

function unsupported(what: string): Error {
  return invalidInput(
    'PKI_CSR_UNSUPPORTED_ALGORITHM',
    `the CSR uses ${what}, which meshca does not accept; make it with an EC (P-256/P-384) or RSA key signed with SHA-256, SHA-384 or SHA-512 (RSA-PSS and Ed25519 are accepted too)`,
  );
}

/** Parses and signature-checks a PEM `CERTIFICATE REQUEST`. */
export function parseCsr(pem: string): ParsedCsr {
  let blocks: ReturnType<typeof decodePem>;
  try {
    blocks = decodePem(pem, 'the CSR');
  } catch (err) {
    throw malformed(isMeshcaError(err) ? err.message : String(err), err);
  }
  const [block] = blocks;
  if (blocks.length !== 1 || !block) throw malformed(`expected one PEM block, found ${blocks.length}`);
  // Old tools (Netscape, some Java) write NEW CERTIFICATE REQUEST for the same structure.
  if (block.type !== 'CERTIFICATE REQUEST' && block.type !== 'NEW CERTIFICATE REQUEST') {
    throw malformed(`the PEM block is a "${block.type}", expected "CERTIFICATE REQUEST"`);
  }
  return parseCsrDer(block.der);
}

/** Parses and signature-checks a DER PKCS#10 request. */
export function parseCsrDer(der: Buffer): ParsedCsr {
  try {
    return parseStructure(der);
  } catch (err) {
    // The DER reader speaks of DER; the operator needs to hear it is the CSR that is broken.
    if (isMeshcaError(err) && err.code === 'PKI_DER_MALFORMED') throw malformed(err.message, err);
    throw err;
  }
}

function parseStructure(der: Buffer): ParsedCsr {
  const outer = expectTag(readDer(der), TAG.SEQUENCE, 'CertificationRequest');
  const [infoNode, algNode, sigNode, extra] = children(der, outer);
  if (extra) throw malformed('CertificationRequest has more than three elements');
  const info = expectTag(infoNode, TAG.SEQUENCE, 'certificationRequestInfo');
  const [versionNode, subjectNode, spkiNode, attributesNode, ...more] = children(der, info);
  if (more.length > 0) throw malformed('certificationRequestInfo has more than four elements');
  if (readSmallInteger(der, expectTag(versionNode, TAG.INTEGER, 'version')) !== 0) {
    throw malformed('the version is not 0 (v1), the only PKCS#10 version');
  }
  const subject = formatName(der, expectTag(subjectNode, TAG.SEQUENCE, 'subject'));
  const spkiDer = Buffer.from(encodingOf(der, expectTag(spkiNode, TAG.SEQUENCE, 'subjectPKInfo')));
  const sans = readRequestedExtensions(der, expectTag(attributesNode, 0xa0, 'attributes [0]'));

  const publicKey = readPublicKey(der, spkiNode!, spkiDer);
  const { family, verifyKey } = readSignatureAlgorithm(
    der,
    expectTag(algNode, TAG.SEQUENCE, 'signatureAlgorithm'),
  );
  const keyFamily = KEY_FAMILIES[publicKey.asymmetricKeyType ?? ''];
  if (keyFamily !== family && !(family === 'pss' && keyFamily === 'rsa')) {
    throw malformed(`its signature algorithm does not fit its ${describeKey(publicKey)} key`);
  }
  const signature = readBitString(der, expectTag(sigNode, TAG.BIT_STRING, 'signature'));
  if (signature.unusedBits !== 0) throw malformed('the signature BIT STRING has unused bits');
  let ok: boolean;
  try {
    ok = verifyKey(encodingOf(der, info), publicKey, signature.bytes);
  } catch {
    // OpenSSL throws rather than returning false on some garbage (e.g. a signature longer than the modulus).
    ok = false;
  }
  if (!ok) {
    throw invalidInput(
      'PKI_CSR_BAD_SIGNATURE',
      "the CSR's signature does not verify with its own public key; the CSR was altered or made with another key",
    );
  }
  const details = publicKey.asymmetricKeyDetails ?? {};
  const keyAlgorithm =
    publicKey.asymmetricKeyType === 'ec' ||
    publicKey.asymmetricKeyType === 'rsa' ||
    publicKey.asymmetricKeyType === 'ed25519'
      ? publicKey.asymmetricKeyType
      : 'other';
  return {
    der,
    publicKey,
    spkiDer,
    keyDescription: describeKey(publicKey),
    keyBits:
      details.modulusLength ?? CURVE_BITS[details.namedCurve ?? ''] ?? (keyAlgorithm === 'ed25519' ? 256 : 0),
    keyAlgorithm,
    subject,
    ...sans,
  };
}

/** Named curves accepted in CSRs, with their JWK name and coordinate size. */
const CURVES: Readonly<Record<string, { crv: string; size: number }>> = {
  '1.2.840.10045.3.1.7': { crv: 'P-256', size: 32 },
  '1.3.132.0.34': { crv: 'P-384', size: 48 },
  '1.3.132.0.35': { crv: 'P-521', size: 66 },
};

function readPublicKey(der: Buffer, spkiNode: DerNode, spkiDer: Buffer): KeyObject {
  // The SPKI goes verbatim into the certificate, so its shape is checked here, not only by OpenSSL.
  const [algorithm, keyBits, extra] = children(der, spkiNode);
  if (extra) throw malformed('subjectPKInfo has more than two elements');
  const [algOidNode, params, extraParam] = children(
    der,
    expectTag(algorithm, TAG.SEQUENCE, 'subjectPKInfo algorithm'),
  );
  if (extraParam) throw malformed('the subjectPKInfo algorithm has more than two elements');
  const keyOid = readOid(der, expectTag(algOidNode, TAG.OID, 'subjectPKInfo algorithm'));
  if (
    keyOid !== OID.ecPublicKey &&
    keyOid !== OID.rsaEncryption &&
    keyOid !== OID.rsassaPss &&
    keyOid !== OID.ed25519
  ) {
    throw unsupported(`a public key of type ${keyOid}`);
  }
  try {
    if (keyOid === OID.ecPublicKey) {
      // RFC 5480 2.1.1: PKIX allows only named curves; the SPKI is copied into the certificate.
      const curve = params?.tag === TAG.OID ? CURVES[readOid(der, params)] : undefined;
      if (!curve) throw unsupported('an EC key on a curve other than P-256, P-384 or P-521');
      const { unusedBits, bytes: point } = readBitString(
        der,
        expectTag(keyBits, TAG.BIT_STRING, 'subjectPublicKey'),
      );
      if (unusedBits !== 0) throw malformed('the EC public key BIT STRING has unused bits');
      // OpenSSL 3 imports a JWK about twice as fast as a DER SPKI, and still checks the point is on the curve.
      if (point.length === 1 + 2 * curve.size && point[0] === 0x04) {
        const x = point.subarray(1, 1 + curve.size).toString('base64url');
        const y = point.subarray(1 + curve.size).toString('base64url');
        return createPublicKey({ key: { kty: 'EC', crv: curve.crv, x, y }, format: 'jwk' });
      }
    }
    return createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch (err) {
    if (isMeshcaError(err)) throw err;
    throw malformed(`its public key cannot be read (${(err as Error).message})`, err);
  }
}

type Verifier = (data: Buffer, key: KeyObject, signature: Buffer) => boolean;

function readSignatureAlgorithm(der: Buffer, node: DerNode): { family: Family; verifyKey: Verifier } {
  const [oidNode, params] = children(der, node);
  const algOid = readOid(der, expectTag(oidNode, TAG.OID, 'signatureAlgorithm'));
  const spec = VERIFIABLE[algOid];
  if (!spec) throw unsupported(`the signature algorithm ${SIGNATURE_ALGORITHMS[algOid]?.name ?? algOid}`);
  if (spec.family === 'pss') return { family: 'pss', verifyKey: pssVerifier(der, params) };
  const hash = spec.hash;
  return { family: spec.family, verifyKey: (data, key, sig) => verify(hash, data, key, sig) };
}

/** RSASSA-PSS-params (RFC 4055 3.1): only SHA-2 with MGF1 over the same hash; defaults (SHA-1) are refused. */
function pssVerifier(der: Buffer, params: DerNode | undefined): Verifier {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  for (const field of params ? children(der, expectTag(params, TAG.SEQUENCE, 'RSASSA-PSS parameters')) : []) {
    const [inner] = children(der, field);
    if (!inner) throw malformed('an RSASSA-PSS parameter is empty');
    if (field.tag === 0xa0) hash = digestName(der, inner);
    else if (field.tag === 0xa1) {
      const [mgfOid, mgfParams] = children(der, expectTag(inner, TAG.SEQUENCE, 'maskGenAlgorithm'));
      if (readOid(der, expectTag(mgfOid, TAG.OID, 'maskGenAlgorithm')) !== MGF1)
        throw unsupported('RSA-PSS with a mask generation other than MGF1');
      mgfHash = digestName(der, expectTag(mgfParams, TAG.SEQUENCE, 'MGF1 hash'));
    } else if (field.tag === 0xa2) saltLength = readSmallInteger(der, inner);
    else if (field.tag === 0xa3 && readSmallInteger(der, inner) !== 1)
      throw unsupported('RSA-PSS with a trailer field other than 1');
  }
  if (!STRONG_HASHES.has(hash) || mgfHash !== hash)
    throw unsupported(`RSA-PSS with ${hash} (MGF1 ${mgfHash})`);
  return (data, key, sig) =>
    verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig);
}

function digestName(der: Buffer, algorithm: DerNode): string {
  const [hashOid] = children(der, expectTag(algorithm, TAG.SEQUENCE, 'hash AlgorithmIdentifier'));
  const dotted = readOid(der, expectTag(hashOid, TAG.OID, 'hash algorithm'));
  return HASH_ALGORITHMS[dotted] ?? dotted;
}

/**
 * A Name as one line in wire order, e.g. `O=foo, CN=bar`, written exactly as x509-name.ts's
 * formatName writes certificate names (formatAttribute, `+` within an RDN, `, ` between RDNs)
 * so a CSR subject and a certificate subject compare as text.
 */
function formatName(der: Buffer, name: DerNode): string {
  const rdns: string[] = [];
  for (const rdn of children(der, name)) {
    const parts: string[] = [];
    for (const atv of children(der, expectTag(rdn, TAG.SET, 'RelativeDistinguishedName'))) {
      const [typeNode, valueNode] = children(der, expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      const type = readOid(der, expectTag(typeNode, TAG.OID, 'attribute type'));
      if (!valueNode) throw malformed(`the subject attribute ${type} has no value`);
      parts.push(
        formatAttribute(
          type,
          STRING_TAGS.has(valueNode.tag) ? readString(der, valueNode) : encodingOf(der, valueNode),
        ),
      );
    }
    if (parts.length === 0) throw malformed('the subject has an empty RelativeDistinguishedName');
    rdns.push(parts.join('+'));
  }
  return rdns.join(', ');
}

const STRING_TAGS = new Set<number>([
  TAG.UTF8_STRING,
  TAG.PRINTABLE_STRING,
  TAG.IA5_STRING,
  TAG.NUMERIC_STRING,
  TAG.VISIBLE_STRING,
  TAG.TELETEX_STRING,
  TAG.BMP_STRING,
  TAG.UNIVERSAL_STRING,
]);

type RequestedNames = Pick<ParsedCsr, 'uris' | 'dnsNames' | 'ips' | 'emails' | 'requestsCa'>;

/** SANs and CA wishes from the extensionRequest attribute; other attributes are ignored. */
function readRequestedExtensions(der: Buffer, attributes: DerNode): RequestedNames {
  const out: RequestedNames = { uris: [], dnsNames: [], ips: [], emails: [], requestsCa: false };
  let seen = false;
  for (const attribute of children(der, attributes)) {
    const [typeNode, values] = children(der, expectTag(attribute, TAG.SEQUENCE, 'Attribute'));
    if (readOid(der, expectTag(typeNode, TAG.OID, 'attribute type')) !== OID.extensionRequest) continue;
    const [extensions, another] = children(der, expectTag(values, TAG.SET, 'extensionRequest values'));
    if (seen || another) throw malformed('it has more than one extensionRequest');
    seen = true;
    const extensionIds = new Set<string>();
    for (const extension of children(der, expectTag(extensions, TAG.SEQUENCE, 'Extensions'))) {
      const fields = children(der, expectTag(extension, TAG.SEQUENCE, 'Extension'));
      const id = readOid(der, expectTag(fields[0], TAG.OID, 'extension id'));
      if (fields.length < 2 || fields.length > 3)
        throw malformed(`the extension ${id} has ${fields.length} fields`);
      if (extensionIds.has(id)) throw malformed(`it requests the extension ${id} twice`);
      extensionIds.add(id);
      if (fields.length === 3) readBoolean(der, fields[1]!);
      const valueNode = expectTag(fields[fields.length - 1], TAG.OCTET_STRING, 'extension value');
      const value = contentOf(der, valueNode);
      if (id === OID.subjectAltName) readGeneralNames(value, out);
      else if (id === OID.basicConstraints) out.requestsCa ||= readCaFlag(value);
      else if (id === OID.keyUsage) out.requestsCa ||= readKeyCertSign(value);
    }
  }
  return out;
}

function readGeneralNames(value: Buffer, out: RequestedNames): void {
  const names = readDer(value);
  for (const name of children(value, expectTag(names, TAG.SEQUENCE, 'subjectAltName'))) {
    const bytes = contentOf(value, name);
    switch (name.tag) {
      case 0x81:
        out.emails.push(bytes.toString('latin1'));
        break;
      case 0x82:
        out.dnsNames.push(bytes.toString('latin1'));
        break;
      case 0x86:
        out.uris.push(bytes.toString('latin1'));
        break;
      case 0x87: {
        const ip = formatIp(bytes);
        if (ip === undefined)
          throw malformed(`a subjectAltName IP address has ${bytes.length} bytes, not 4 or 16`);
        out.ips.push(ip);
        break;
      }
      default:
        // otherName, directoryName, registeredID: not identities meshca issues; the profile drops them.
        break;
    }
  }
}

function readCaFlag(value: Buffer): boolean {
  const [first] = children(value, expectTag(readDer(value), TAG.SEQUENCE, 'basicConstraints'));
  return first?.tag === TAG.BOOLEAN && readBoolean(value, first);
}

function readKeyCertSign(value: Buffer): boolean {
  const { bytes } = readBitString(value, readDer(value));
  return ((bytes[0] ?? 0) & 0x04) !== 0; // bit 5, keyCertSign
}
