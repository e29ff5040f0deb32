// A cert-manager CA ClusterIssuer played locally: the issuer's key and certificate sit in a
// directory (tls.crt, tls.key, ca.crt, or Istio's four files), hot-reloaded like the plugged-in CA.
import { CertificateAuthority } from '../../ca/certificate-authority.js';
import type { Logger } from '../../log.js';
import { createLocalCaSigner } from './local-ca-signer.js';
import type { Signer } from './signer.js';

export interface LocalIssuerSigner extends Signer {
  /** The issuer's CA, for PILOT_CERT_PROVIDER (the CA server's own certificate from this signer). */
  readonly ca: CertificateAuthority;
}

export async function openLocalIssuerSigner(opts: {
  name: string;
  dir: string;
  log: Logger;
  debounceMs?: number;
}): Promise<LocalIssuerSigner> {
  const ca = await CertificateAuthority.open({ kind: 'plugged', dir: opts.dir });
  ca.on('bundle', ({ bundle, rootChanged }) =>
    opts.log.info('signer bundle reloaded', {
      event: 'signer-reloaded',
      signer: opts.name,
      signingCert: bundle.issuer.certificate.subject,
      rootChanged,
    }),
  );
  ca.on('reload-failed', ({ error }) =>
    opts.log.error('signer bundle reload refused; the last good bundle keeps signing', {
      event: 'signer-reload-failed',
      signer: opts.name,
      code: error.code,
      reason: error.message,
    }),
  );
  ca.watch({ debounceMs: opts.debounceMs });
  const local = createLocalCaSigner(opts.name, ca);
  return {
    name: opts.name,
    ca,
    sign: local.sign,
    roots: local.roots,
    async close() {
      ca.close();
    },
  };
}
