// Parsing X.509 certificates (PEM or DER, one or a bundle) into CertificateInfo, the plain-data view
// the CA, `meshca certs inspect` and the chain checks work from.
import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { invalidInput } from '../errors.js';
import { describeKey } from './keys.js';
import { decodePem, decodePemAllowEmpty, encodePem } from './pem.js';
import type { CertificateInfo, PemBlock } from './types.js';
import { readExtensions } from './x509-extensions.js';
import { formatName, sameName } from './x509-name.js';
import { HASH_ALGORITHMS, OID, SIGNATURE_ALGORITHMS } from './x509-oids.js';

const malformed = (source: string, why: string, cause?: unknown) =>
  invalidInput(
    'PKI_CERT_MALFORMED',
    `${source}: ${why}; check that the file holds an X.509 certificate and was not cut or edited`,
    cause,
  );

/** Only CERTIFICATE blocks are accepted; anything else (a key, a CSR) is named so the operator sees the mix-up. */
function certificateBlocks(blocks: PemBlock[], source: string): PemBlock[] {
  for (const [i, block] of blocks.entries()) {
    if (block.type !== 'CERTIFICATE') {
      throw invalidInput(
        'PKI_CERT_MALFORMED',
        `${source}: PEM block ${i + 1} is "${block.type}", not "CERTIFICATE"; a certificate file must hold certificates only (keys and requests go in their own files)`,
      );
    }
  }
  return blocks;
}

/** The name and hash of a signature algorithm; the hash of RSASSA-PSS is read from its parameters. */
function signatureAlgorithmOf(alg: pkijs.AlgorithmIdentifier): { name: string; hash: string } {
  const known = SIGNATURE_ALGORITHMS[alg.algorithmId];
  if (!known) return { name: alg.algorithmId, hash: 'unknown' };
  if (alg.algorithmId === OID.rsassaPss && alg.algorithmParams instanceof asn1js.Sequence) {
    try {
      const params = new pkijs.RSASSAPSSParams({ schema: alg.algorithmParams });
      return { name: known.name, hash: HASH_ALGORITHMS[params.hashAlgorithm.algorithmId] ?? 'unknown' };
    } catch {
      return { name: known.name, hash: 'unknown' };
    }
  }
  return known;
}

/** The serial's magnitude as `openssl x509 -serial` prints it: DER's sign-padding 00 byte is not shown. */
function serialHexOf(content: Uint8Array): string {
  const bytes =
    content.length > 1 && content[0] === 0 && (content[1] ?? 0) >= 0x80 ? content.subarray(1) : content;
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

function parseDer(der: Buffer, source: string): CertificateInfo {
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1) throw malformed(source, `not valid DER (${asn1.result.error})`);
  if (asn1.offset !== der.length)
    throw malformed(source, `${der.length - asn1.offset} stray bytes follow the certificate`);
  let cert: pkijs.Certificate;
  let x509: X509Certificate;
  try {
    cert = new pkijs.Certificate({ schema: asn1.result });
    x509 = new X509Certificate(der);
  } catch (err) {
    throw malformed(source, `not an X.509 certificate (${(err as Error).message})`, err);
  }
  const subjectDer = Buffer.from(cert.subject.valueBeforeDecode);
  const issuerDer = Buffer.from(cert.issuer.valueBeforeDecode);
  const facts = readExtensions(cert.extensions, source);
  const signature = signatureAlgorithmOf(cert.signatureAlgorithm);
  const publicKey = x509.publicKey;
  let selfSigned = false;
  if (sameName(subjectDer, issuerDer)) {
    try {
      selfSigned = x509.verify(publicKey);
    } catch {
      selfSigned = false;
    }
  }
  return {
    der,
    pem: encodePem('CERTIFICATE', der),
    x509,
    subject: formatName(subjectDer),
    issuer: formatName(issuerDer),
    subjectDer,
    issuerDer,
    serialHex: serialHexOf(cert.serialNumber.valueBlock.valueHexView),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    ...facts,
    signatureAlgorithm: signature.name,
    signatureHash: signature.hash,
    publicKey,
    keyDescription: describeKey(publicKey),
    fingerprint256: x509.fingerprint256,
    selfSigned,
  };
}

/**
 * One certificate from PEM text or DER bytes (a Buffer holding PEM text is read as text).
 * `source` names the input in error messages, e.g. the file name.
 */
export function parseCertificate(input: string | Buffer, source = 'certificate'): CertificateInfo {
  // DER starts with a SEQUENCE tag (0x30); PEM text read into a Buffer has "-----BEGIN" in it.
  if (Buffer.isBuffer(input) && input[0] === 0x30 && !input.includes('-----BEGIN')) {
    return parseDer(input, source);
  }
  const text = Buffer.isBuffer(input) ? input.toString('utf8') : input;
  const blocks = certificateBlocks(decodePem(text, source), source);
  if (blocks.length !== 1) {
    throw invalidInput(
      'PKI_CERT_MALFORMED',
      `${source}: holds ${blocks.length} certificates where exactly one is expected; keep only the certificate itself in this file (the chain goes in cert-chain.pem)`,
    );
  }
  return parseDer(blocks[0]!.der, source);
}

/** Every certificate of a PEM bundle, in file order; a bundle without any is an error. */
export function parseCertificates(pem: string, source = 'certificate bundle'): CertificateInfo[] {
  const blocks = certificateBlocks(decodePemAllowEmpty(pem, source), source);
  if (blocks.length === 0) {
    throw invalidInput(
      'PKI_CERT_MALFORMED',
      `${source}: is empty; it must hold at least one "-----BEGIN CERTIFICATE-----" block`,
    );
  }
  return blocks.map((block, i) =>
    parseDer(block.der, blocks.length > 1 ? `${source} (certificate ${i + 1})` : source),
  );
}
