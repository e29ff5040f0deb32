// Signing an intermediate CA's PKCS#10 request with a root (or another CA): the offline half of
// `meshca certs intermediate --csr-only`, where the intermediate's key never leaves its machine.
import * as pkijs from 'pkijs';
import { invalidInput } from '../errors.js';
import { buildIntermediateCertificate } from './build-ca-certificate.js';
import { parseCsr } from './parse-csr.js';
import type { CertificateInfo, Issuer, NameSpec } from './types.js';
import { arrayBufferOf } from './x509-extensions.js';
import { encodeNameSpec } from './x509-name.js';

export interface SignIntermediateCsrOptions {
  csrPem: string;
  issuer: Issuer;
  days: number;
  /** pathLenConstraint; default 0. */
  pathLen?: number;
  /** DNS SANs; default: the DNS names the request asks for. */
  dnsNames?: string[];
  /** Replaces the request's subject (e.g. when the requester's tooling cannot set it). */
  subjectOverride?: NameSpec;
  now?: Date;
}

/**
 * Verifies the request's signature (proof the requester holds the key), then issues the same
 * intermediate profile as createIntermediateCertificate for the request's key and subject. Other
 * requested extensions are ignored: the signer, not the requester, decides what a CA may do.
 */
export async function signIntermediateCsr(opts: SignIntermediateCsrOptions): Promise<CertificateInfo> {
  const csr = parseCsr(opts.csrPem);
  let subjectDer: Buffer;
  if (opts.subjectOverride) {
    subjectDer = encodeNameSpec(opts.subjectOverride, 'intermediate subject');
  } else {
    // parseCsr gives the subject as text; the certificate gets the request's Name verbatim.
    subjectDer = Buffer.from(
      pkijs.CertificationRequest.fromBER(arrayBufferOf(csr.der)).subject.valueBeforeDecode,
    );
    if (csr.subject === '') {
      throw invalidInput(
        'PKI_NAME_INVALID',
        'the CSR has an empty subject, and a CA certificate needs a name; make the CSR with a subject (e.g. O=Istio, CN=Intermediate CA, L=cluster1) or pass a subject override',
      );
    }
  }
  return buildIntermediateCertificate({
    subjectDer,
    spkiDer: csr.spkiDer,
    issuer: opts.issuer,
    days: opts.days,
    pathLen: opts.pathLen,
    dnsNames: opts.dnsNames ?? csr.dnsNames,
    now: opts.now ?? new Date(),
  });
}
