// The one place CA certificates (roots and intermediates) are assembled: pkijs encodes the TBS,
// the CaKey signs it (so an HSM or remote key works and the key is never exported), and the result
// is parsed back and checked against the issuer's key before anyone sees it.
import { randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { caUnusable, invalidInput } from '../errors.js';
import { digestFor } from './keys.js';
import { parseCertificate } from './parse-certificate.js';
import type { CaKey, CertificateInfo, Issuer } from './types.js';
import {
  arrayBufferOf,
  authorityKeyIdExtension,
  basicConstraintsExtension,
  dnsSanExtension,
  keyIdentifier,
  keyUsageExtension,
  subjectKeyIdExtension,
} from './x509-extensions.js';
import { SIGN_WITH } from './x509-oids.js';

export interface CaCertificateTemplate {
  /** What is being made, for messages: "root certificate", "intermediate certificate". */
  what: string;
  subjectDer: Buffer;
  spkiDer: Buffer;
  issuerDer: Buffer;
  signer: CaKey;
  /** The public key the result must verify with: the issuer certificate's (or, for a root, its own). */
  verifyWith: CertificateInfo['publicKey'];
  authorityKeyId: Buffer | undefined;
  /** undefined: no pathLenConstraint (a root). */
  pathLen: number | undefined;
  dnsNames: readonly string[];
  days: number;
  now: Date;
}

/** Backdating absorbs clock skew between the CA and the machines that check the certificate. */
const BACKDATE_MS = 2 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, as DER wants. */
function x509Time(date: Date): pkijs.Time {
  const value = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });
}

/** 16 random bytes, top bit cleared (positive) and the next set (no leading zero to strip): 126 random bits. */
function randomSerial(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return new asn1js.Integer({ valueHex: bytes });
}

export function checkDays(days: number, what: string): void {
  if (!Number.isFinite(days) || days <= 0) {
    throw invalidInput(
      'PKI_VALIDITY_INVALID',
      `the ${what} validity must be a positive number of days, got ${days}; e.g. 3650 for a root, 730 for an intermediate`,
    );
  }
}

export function checkPathLen(pathLen: number, what: string): void {
  if (!Number.isInteger(pathLen) || pathLen < 0) {
    throw invalidInput(
      'PKI_PATHLEN_INVALID',
      `the ${what} path length must be a whole number ≥ 0, got ${pathLen}; 0 means it may sign workloads but no further CAs`,
    );
  }
}

/** The signature AlgorithmIdentifier that matches what the CaKey produces (see CaKey.sign). */
export function signatureAlgorithmFor(signer: CaKey): pkijs.AlgorithmIdentifier {
  const type = signer.publicKey.asymmetricKeyType;
  const algorithmId = SIGN_WITH[`${type}:${digestFor(signer.publicKey)}`];
  if (!algorithmId) {
    throw invalidInput(
      'PKI_KEY_UNSUPPORTED',
      `a CA key of type "${type}" cannot sign certificates here; use an EC P-256, EC P-384 or RSA key`,
    );
  }
  return new pkijs.AlgorithmIdentifier({
    algorithmId,
    // RSA PKCS#1 v1.5 carries explicit NULL parameters; ECDSA carries none (RFC 5758).
    ...(type === 'rsa' ? { algorithmParams: new asn1js.Null() } : {}),
  });
}

export async function buildCaCertificate(t: CaCertificateTemplate): Promise<CertificateInfo> {
  checkDays(t.days, t.what);
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = randomSerial();
  const algorithm = signatureAlgorithmFor(t.signer);
  cert.signature = algorithm;
  cert.signatureAlgorithm = algorithm;
  cert.issuer = pkijs.RelativeDistinguishedNames.fromBER(arrayBufferOf(t.issuerDer));
  cert.subject = pkijs.RelativeDistinguishedNames.fromBER(arrayBufferOf(t.subjectDer));
  cert.notBefore = x509Time(new Date(t.now.getTime() - BACKDATE_MS));
  cert.notAfter = x509Time(new Date(t.now.getTime() + t.days * DAY_MS));
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(arrayBufferOf(t.spkiDer));
  cert.extensions = [
    basicConstraintsExtension(t.pathLen),
    keyUsageExtension(['Digital Signature', 'Certificate Sign', 'CRL Sign']),
    subjectKeyIdExtension(keyIdentifier(t.spkiDer)),
    ...(t.authorityKeyId ? [authorityKeyIdExtension(t.authorityKeyId)] : []),
    ...(t.dnsNames.length > 0 ? [dnsSanExtension(t.dnsNames)] : []),
  ];
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.signatureValue = new asn1js.BitString({ valueHex: await t.signer.sign(cert.tbsView) });
  const info = parseCertificate(Buffer.from(cert.toSchema(false).toBER(false)), `new ${t.what}`);
  // A CaKey whose sign() does not match its certificate (a wrong HSM slot, a mixed-up key file)
  // would otherwise hand out certificates nobody can verify.
  if (!info.x509.verify(t.verifyWith)) {
    throw caUnusable(
      'PKI_CA_KEY_MISMATCH',
      `the ${t.what} was signed, but its signature does not verify with the issuer's public key: the CA key and the CA certificate do not belong together; check that ca-key.pem matches ca-cert.pem`,
    );
  }
  return info;
}

export interface IntermediateRequest {
  subjectDer: Buffer;
  spkiDer: Buffer;
  issuer: Issuer;
  days: number;
  pathLen: number | undefined;
  dnsNames: readonly string[];
  now: Date;
}

/** An intermediate ("signing") CA under `issuer`: pathlen defaults to 0, AKI is the issuer's key id. */
export async function buildIntermediateCertificate(r: IntermediateRequest): Promise<CertificateInfo> {
  const pathLen = r.pathLen ?? 0;
  checkPathLen(pathLen, 'intermediate');
  const parent = r.issuer.certificate;
  if (parent.pathLen === 0) {
    throw invalidInput(
      'PKI_PATHLEN_EXCEEDED',
      `the issuer "${parent.subject}" has pathlen:0, so a CA certificate it signs would never verify; sign the intermediate with the root (or a CA with a larger path length)`,
    );
  }
  return buildCaCertificate({
    what: 'intermediate certificate',
    subjectDer: r.subjectDer,
    spkiDer: r.spkiDer,
    issuerDer: parent.subjectDer,
    signer: r.issuer.key,
    verifyWith: parent.publicKey,
    // Issuers without a subjectKeyIdentifier (Istio's old sample root) get the RFC 5280 hash of their key.
    authorityKeyId:
      parent.subjectKeyId ?? keyIdentifier(parent.publicKey.export({ type: 'spki', format: 'der' })),
    pathLen,
    dnsNames: r.dnsNames,
    days: r.days,
    now: r.now,
  });
}
