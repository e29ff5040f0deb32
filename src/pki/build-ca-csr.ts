// Making a PKCS#10 request for a CA certificate: Istio's root-cert.csr, and the request an operator
// sends to an external root with `meshca certs intermediate --csr-only`.
import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { invalidInput } from '../errors.js';
import { signatureAlgorithmFor } from './build-ca-certificate.js';
import { asCaKey } from './keys.js';
import { encodePem } from './pem.js';
import type { CaKey, NameSpec } from './types.js';
import {
  arrayBufferOf,
  basicConstraintsExtension,
  dnsSanExtension,
  keyUsageExtension,
} from './x509-extensions.js';
import { encodeNameSpec } from './x509-name.js';
import { OID } from './x509-oids.js';

export interface BuildCaCsrOptions {
  /** The private key of the CA to be (or a CaKey, e.g. in a token); it signs the request to prove possession. */
  key: KeyObject | CaKey;
  subject: NameSpec;
  dnsNames?: string[];
  /** Ask for CA:TRUE and Certificate Sign (default true: this is a CA's request). */
  isCa?: boolean;
}

/**
 * A PEM `CERTIFICATE REQUEST`. A CA request asks for basicConstraints critical CA:TRUE (no path
 * length: the signer decides it) and keyUsage critical Digital Signature, Certificate Sign, CRL Sign.
 */
export async function buildCaCsr(opts: BuildCaCsrOptions): Promise<string> {
  if ('type' in opts.key && opts.key.type !== 'private') {
    throw invalidInput(
      'PKI_KEY_UNSUPPORTED',
      'a CSR is signed by its own key, so it needs the private key, not a public key',
    );
  }
  const signer = asCaKey(opts.key);
  const extensions: pkijs.Extension[] = [];
  if (opts.isCa ?? true) {
    extensions.push(basicConstraintsExtension(undefined));
    extensions.push(keyUsageExtension(['Digital Signature', 'Certificate Sign', 'CRL Sign']));
  }
  if (opts.dnsNames && opts.dnsNames.length > 0) extensions.push(dnsSanExtension(opts.dnsNames));

  const subject = pkijs.RelativeDistinguishedNames.fromBER(
    arrayBufferOf(encodeNameSpec(opts.subject, 'CSR subject')),
  );
  const spki = pkijs.PublicKeyInfo.fromBER(
    arrayBufferOf(signer.publicKey.export({ type: 'spki', format: 'der' })),
  );
  const attributes =
    extensions.length === 0
      ? []
      : [
          new pkijs.Attribute({
            type: OID.extensionRequest,
            values: [new pkijs.Extensions({ extensions }).toSchema()],
          }).toSchema(),
        ];
  // CertificationRequestInfo (RFC 2986 4.1); the attributes field is always present, empty if nothing is requested.
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      subject.toSchema(),
      spki.toSchema(),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: attributes }),
    ],
  });
  const infoDer = new Uint8Array(info.toBER(false));
  const csr = new asn1js.Sequence({
    value: [
      info,
      signatureAlgorithmFor(signer).toSchema(),
      new asn1js.BitString({ valueHex: arrayBufferOf(await signer.sign(infoDer)) }),
    ],
  });
  return encodePem('CERTIFICATE REQUEST', new Uint8Array(csr.toBER(false)));
}
