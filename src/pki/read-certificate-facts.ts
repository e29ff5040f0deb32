// The few facts the hot path reads back from a certificate it has just issued (serial, validity,
// key, issuer), taken straight from the DER with the hand-written reader. A full parse (pkijs, or
// node's X509Certificate) cost more per certificate than signing it: see bench/PROFILE.md.
import { invalidInput } from '../errors.js';
import { children, contentOf, encodingOf, expectTag, readDer, TAG } from './der-reader.js';

export interface CertificateFacts {
  /** The serial's magnitude in lower-case hex without leading zeros (the issuance log's form). */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** The SubjectPublicKeyInfo, DER (a view into the certificate). */
  spkiDer: Buffer;
  /** The issuer Name, DER (a view into the certificate). */
  issuerDer: Buffer;
  /** The authority key identifier's keyIdentifier, when the certificate has one. */
  authorityKeyId?: Buffer;
}

const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
/** id-ce-authorityKeyIdentifier (2.5.29.35), content bytes of the OID. */
const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]);

const malformed = (detail: string) => invalidInput('PKI_DER_MALFORMED', `malformed DER: ${detail}`);

/** UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, the only forms RFC 5280 allows. */
function readTime(node: { tag: number; start: number }, text: string): Date {
  const form =
    node.tag === TAG_UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
      : node.tag === TAG_GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
        : undefined;
  const m = form?.exec(text);
  if (!m)
    throw malformed(`certificate validity time at offset ${node.start} is not a UTCTime or GeneralizedTime`);
  let year = Number(m[1]);
  // RFC 5280 4.1.2.5.1: a UTCTime year below 50 is 20YY, else 19YY.
  if (node.tag === TAG_UTC_TIME) year += year < 50 ? 2000 : 1900;
  const [month, day, hour, minute, second] = m.slice(2).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    throw malformed(`certificate validity time at offset ${node.start} is not a real date`);
  return date;
}

function authorityKeyIdOf(der: Buffer, extensions: ReturnType<typeof children>): Buffer | undefined {
  for (const ext of extensions) {
    const [id, ...rest] = children(der, expectTag(ext, TAG.SEQUENCE, 'extension'));
    if (!contentOf(der, expectTag(id, TAG.OID, 'extension id')).equals(AKI_OID)) continue;
    const value = contentOf(der, expectTag(rest.at(-1), TAG.OCTET_STRING, 'extension value'));
    const aki = children(value, expectTag(readDer(value), TAG.SEQUENCE, 'authority key identifier'));
    // keyIdentifier is [0] IMPLICIT OCTET STRING, primitive: tag 0x80.
    const keyId = aki.find((n) => n.tag === 0x80);
    return keyId ? contentOf(value, keyId) : undefined;
  }
  return undefined;
}

/** Reads a Certificate's facts from its DER; refuses bytes that are not one (PKI_DER_MALFORMED). */
export function readCertificateFacts(der: Buffer): CertificateFacts {
  const [tbsNode] = children(der, expectTag(readDer(der), TAG.SEQUENCE, 'Certificate'));
  const tbs = children(der, expectTag(tbsNode, TAG.SEQUENCE, 'TBSCertificate'));
  // version [0] EXPLICIT is optional (absent for v1).
  const at = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const serialNode = expectTag(tbs[at], TAG.INTEGER, 'serialNumber');
  const issuerNode = expectTag(tbs[at + 2], TAG.SEQUENCE, 'issuer');
  const [from, until, ...extra] = children(der, expectTag(tbs[at + 3], TAG.SEQUENCE, 'validity'));
  if (!from || !until || extra.length > 0) throw malformed('validity is not two times');
  const spkiNode = expectTag(tbs[at + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const extensionsNode = tbs.slice(at + 6).find((n) => n.tag === 0xa3);
  const extensions = extensionsNode
    ? children(der, expectTag(children(der, extensionsNode)[0], TAG.SEQUENCE, 'extensions'))
    : [];
  const serialBytes = contentOf(der, serialNode);
  if (serialBytes.length === 0) throw malformed('empty serialNumber');
  return {
    serial: serialBytes.toString('hex').replace(/^0+(?=.)/, ''),
    notBefore: readTime(from, contentOf(der, from).toString('latin1')),
    notAfter: readTime(until, contentOf(der, until).toString('latin1')),
    spkiDer: encodingOf(der, spkiNode),
    issuerDer: encodingOf(der, issuerNode),
    authorityKeyId: authorityKeyIdOf(der, extensions),
  };
}
