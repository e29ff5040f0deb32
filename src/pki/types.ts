// Shared shapes of the X.509 core. Everything here is plain data: no I/O, no mesh concepts.
import type { KeyObject, X509Certificate } from 'node:crypto';

/** Key algorithms meshca generates. Istio's Makefile uses rsa-4096; Istio's CA uses rsa-2048. */
export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

/** One `-----BEGIN X-----` block. */
export interface PemBlock {
  type: string;
  der: Buffer;
}

/** A distinguished name as meshca writes it (order on the wire: O, then CN, then L). */
export interface NameSpec {
  O?: string;
  CN?: string;
  L?: string;
  OU?: string;
}

/** What meshca reads from a certificate's (or a request's) extensions. */
export interface ExtensionFacts {
  /** basicConstraints: undefined when the extension is absent. */
  isCa: boolean | undefined;
  basicConstraintsCritical: boolean;
  pathLen: number | undefined;
  /** keyUsage names as OpenSSL prints them: `Digital Signature`, `Key Encipherment`, `Certificate Sign`, `CRL Sign`, … ; undefined when absent. */
  keyUsage: string[] | undefined;
  keyUsageCritical: boolean;
  /** extKeyUsage as names: `serverAuth`, `clientAuth`, or the dotted OID when unknown. */
  extKeyUsage: string[] | undefined;
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
  uris: string[];
  dnsNames: string[];
  ips: string[];
  emails: string[];
  sanCritical: boolean;
}

/** A parsed certificate: everything the CA and `meshca certs inspect/verify` look at. */
export interface CertificateInfo extends ExtensionFacts {
  der: Buffer;
  pem: string;
  /** Node's view, used for fast native signature checks (`x509.verify(key)`). */
  x509: X509Certificate;
  /** One-line form in OpenSSL's `-nameopt RFC2253`-like order, e.g. `O=Istio, CN=Root CA`. */
  subject: string;
  issuer: string;
  /** The raw DER bytes of the subject / issuer Name, for building children and comparing names. */
  subjectDer: Buffer;
  issuerDer: Buffer;
  /** Upper-case hex without leading zeros stripped beyond DER's, e.g. `0A1B…`. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** e.g. `ecdsa-with-SHA256`, `sha256WithRSAEncryption`, `sha1WithRSAEncryption`. */
  signatureAlgorithm: string;
  /** The hash inside the signature algorithm: `sha1`, `sha256`, `sha384`, `sha512`, or `unknown`. */
  signatureHash: string;
  publicKey: KeyObject;
  /** `EC P-256`, `EC P-384`, `RSA 2048`, … */
  keyDescription: string;
  /** `AA:BB:…` upper-case, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint256: string;
  selfSigned: boolean;
}

/** A parsed and signature-checked PKCS#10 request. */
export interface ParsedCsr {
  der: Buffer;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, copied verbatim into the issued certificate. */
  spkiDer: Buffer;
  keyDescription: string;
  /** RSA modulus bits, or the EC curve's bits. */
  keyBits: number;
  keyAlgorithm: 'ec' | 'rsa' | 'ed25519' | 'other';
  subject: string;
  uris: string[];
  dnsNames: string[];
  ips: string[];
  emails: string[];
  /** True when the request carries basicConstraints CA:TRUE or keyUsage keyCertSign. */
  requestsCa: boolean;
}

/**
 * A CA key as the CA uses it: it hands out signatures, never the key, so an HSM or a remote
 * key can stand in; signing is asynchronous because such a key answers later. `keyFromPrivateKey`
 * (pki/keys.ts) makes one from a KeyObject.
 */
export interface CaKey {
  publicKey: KeyObject;
  /** Signs `data` with the algorithm that fits the key (ECDSA P-256 → SHA-256, P-384 → SHA-384, RSA → SHA-256 PKCS#1 v1.5); resolves to the DER signature value as it goes in a certificate. */
  sign(data: Uint8Array): Promise<Buffer>;
  /** Whether the key can sign now, and why not (a key in a token that stopped answering); absent: always. */
  health?(): { ok: true } | { ok: false; reason: string };
}

/** What a certificate is signed by: a verified CA certificate and its key. */
export interface Issuer {
  certificate: CertificateInfo;
  key: CaKey;
}

/** Result of a chain check: every reason it fails, or the verified path leaf → root. */
export type ChainVerdict = { ok: true; path: CertificateInfo[] } | { ok: false; reasons: string[] };
