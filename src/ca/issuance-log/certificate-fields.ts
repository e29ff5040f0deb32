// What the issuance log records of a certificate, read from the certificate itself (not from what
// the signer said it did): serial, validity, and the SHA-256 of its DER and of its public key.
import { createHash, X509Certificate } from 'node:crypto';
import { internalError } from '../../errors.js';
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
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw internalError(
      'LOG_BAD_CERTIFICATE',
      `the issued certificate cannot be read for the issuance log: ${(err as Error).message}`,
      err,
    );
  }
  return {
    serial: normalizeSerial(cert.serialNumber),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    certSha256: sha256(cert.raw),
    spkiSha256: sha256(cert.publicKey.export({ type: 'spki', format: 'der' })),
  };
}
