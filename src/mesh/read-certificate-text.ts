// Checking PEM certificate text found in mesh YAML (caCertificates, a step CA's caBundle): every
// block must be a parseable X.509 certificate, so a pasted key or a cut certificate is caught at load.
import { isMeshcaError } from '../errors.js';
import { parseCertificates } from '../pki/parse-certificate.js';

const SOURCE = 'pem';

/** Each certificate as one PEM block, or the reason the text is not a certificate bundle. */
export function readCertificateText(pem: string): { certificates: string[] } | { why: string } {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    const other = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
    // A pasted key is worth its own words: it must not sit in a file that is shared and logged.
    if (other)
      return {
        why: `holds a "${other}" block, not a certificate; paste the CA certificate and keep keys out of the mesh configuration`,
      };
    return { why: 'holds no "-----BEGIN CERTIFICATE-----" block; paste the CA certificate in PEM form' };
  }
  try {
    return { certificates: parseCertificates(pem, SOURCE).map((cert) => cert.pem) };
  } catch (err) {
    if (!isMeshcaError(err)) throw err;
    // pki names the input first ("pem: …" or "pem (certificate 2): …"); the caller names the field.
    const why = err.message.replace(/^pem \((certificate \d+)\): /, '$1: ').replace(/^pem: /, '');
    return { why };
  }
}
