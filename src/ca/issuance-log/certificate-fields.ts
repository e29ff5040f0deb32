// What the issuance log records of a certificate, read from the certificate itself (not from what
// the signer said it did): serial, validity, and the SHA-256 of its DER and of its public key.
import { createHash } from 'node:crypto';
import { internalError } from '../../errors.js';
import { decodePem } from '../../pki/pem.js';
import { type CertificateFacts, readCertificateFacts } from '../../pki/read-certificate-facts.js';
import type { IssuedFields } from './entry.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Serials as the log writes them: lower-case hex without separators or leading zeros. */
export function normalizeSerial(serial: string): string {
  return serial
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
}

export function certificateFields(
  pem: string,
): Pick<IssuedFields, 'serial' | 'notBefore' | 'notAfter' | 'certSha256' | 'spkiSha256'> {
  // Read with the DER reader: node's X509Certificate and its key export were a sixth of the server's
  // CPU per certificate (bench/PROFILE.md).
  let der: Buffer;
  let cert: CertificateFacts;
  try {
    der = decodePem(pem, 'issued certificate')[0]!.der;
    cert = readCertificateFacts(der);
  } catch (err) {
    throw internalError(
      'LOG_BAD_CERTIFICATE',
      `the issued certificate cannot be read for the issuance log: ${(err as Error).message}`,
      err,
    );
  }
  return {
    serial: cert.serial,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    certSha256: sha256(der),
    spkiSha256: sha256(cert.spkiDer),
  };
}
