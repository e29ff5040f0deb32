// For the per-signer root expiry gauge: when the earliest root that caCertificates lists for each signer expires.
import type { MeshConfig } from '../mesh/types.js';
import { parseCertificates } from '../pki/parse-certificate.js';

export function signerRootExpiry(config: MeshConfig | undefined): Map<string, Date> {
  const expiry = new Map<string, Date>();
  for (const entry of config?.caCertificates ?? []) {
    const certs = entry.certificates.flatMap((pem) => parseCertificates(pem, entry.source));
    if (certs.length === 0) continue;
    const earliest = new Date(Math.min(...certs.map((c) => c.notAfter.getTime())));
    for (const signer of entry.certSigners) {
      const known = expiry.get(signer);
      if (!known || earliest < known) expiry.set(signer, earliest);
    }
  }
  return expiry;
}
