// The signing engine of the hot-path leaf profiles (workload SVIDs, the CA's serving certificate):
// assembles the TBSCertificate from the issuer's constant DER, a fresh serial and the validity
// window, has the issuer's key sign it, and wraps it as a Certificate.
import { bitString, explicit, sequence, smallInteger, x509Time } from './der-writer.js';
import { issuerConstants } from './issuer-constants.js';
import { newSerial } from './new-serial.js';
import { encodePem } from './pem.js';
import type { Issuer } from './types.js';
import { validityWindow } from './validity-window.js';

/** A freshly issued certificate. */
export interface IssuedCertificate {
  der: Buffer;
  pem: string;
  /** Upper-case hex of the serial's magnitude (no DER sign-padding byte), as CertificateInfo.serialHex has it. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

const VERSION_3 = explicit(0, smallInteger(2));

/** Builds the TBSCertificate for `issuer`, signs it with the issuer's key and wraps it as a Certificate. */
export async function signLeafCertificate(opts: {
  issuer: Issuer;
  subject: Buffer;
  spki: Buffer;
  extensions: Buffer[];
  now: Date;
  ttlSeconds: number;
}): Promise<IssuedCertificate> {
  const { issuer } = opts;
  const constants = issuerConstants(issuer);
  const { notBefore, notAfter } = validityWindow(opts.now, opts.ttlSeconds, issuer.certificate.notAfter);
  const serial = newSerial();
  const tbs = sequence(
    VERSION_3,
    serial.der,
    constants.signatureAlgorithm,
    constants.issuerName,
    sequence(x509Time(notBefore), x509Time(notAfter)),
    opts.subject,
    opts.spki,
    explicit(3, sequence(...opts.extensions)),
  );
  const signature = await issuer.key.sign(tbs);
  const der = sequence(tbs, constants.signatureAlgorithm, bitString(signature));
  return { der, pem: encodePem('CERTIFICATE', der), serialHex: serial.hex, notBefore, notAfter };
}
