// How messages name a certificate: its subject, or for a workload certificate with an empty
// subject its SPIFFE ID (or DNS name), or failing all that its serial number.
import type { CertificateInfo } from './types.js';

export function certificateLabel(cert: CertificateInfo): string {
  if (cert.subject !== '') return cert.subject;
  const san = cert.uris[0] ?? cert.dnsNames[0];
  return san ?? `serial ${cert.serialHex}`;
}
