// The CA server's own certificate from a Kubernetes CSR signer (PILOT_CERT_PROVIDER=k8s.io/<signer>
// with the signer reached through the CSR API, as istiod gets its DNS certificate from the task's
// istio-system ClusterIssuer): a DNS-name CSR over the server's fresh key, the same round trip as a
// workload's, checked against that signer's roots.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Logger } from '../../../log.js';
import { buildCaCsr } from '../../../pki/build-ca-csr.js';
import { parseCertificates } from '../../../pki/parse-certificate.js';
import type { KubernetesCsrAccess } from '../kubernetes-csr-signer.js';
import { exchangeCsr } from './exchange-csr.js';

/** A serving certificate: server auth only, as Istio's chiron asks for istiod's. */
const SERVING_USAGES = ['digital signature', 'key encipherment', 'server auth'] as const;

export interface IssuedServingCertificate {
  /** Leaf then intermediates, PEM. */
  certChainPem: string;
  /** The signer's roots, PEM: what clients of the server check it against. */
  rootsPem: string;
  notAfter: Date;
}

/** What the server calls to get its certificate from elsewhere than its own CA. */
export type ServingIssuer = (
  key: KeyObject,
  names: { dnsNames: string[]; ips: string[] },
  ttlSeconds: number,
) => Promise<IssuedServingCertificate>;

export function kubernetesCsrServingIssuer(opts: {
  access: KubernetesCsrAccess;
  signerName: string;
  /** The signer's roots from the mesh configuration in force (read at each issuance: it may reload). */
  rootsPem: () => readonly string[];
  timeoutMs: number;
  log: Logger;
}): ServingIssuer {
  return async (key, names, ttlSeconds) => {
    const roots = opts
      .rootsPem()
      .flatMap((pem) => parseCertificates(pem, `caCertificates for ${opts.signerName}`));
    // The CSR API carries DNS names; IP addresses stay out (agents dial istiod by name).
    const requestPem = await buildCaCsr({
      key,
      subject: { CN: names.dnsNames[0] },
      dnsNames: names.dnsNames,
      isCa: false,
    });
    const chain = await exchangeCsr({
      ...opts.access,
      signerName: opts.signerName,
      requestPem,
      publicKey: createPublicKey(key),
      expirationSeconds: Math.max(ttlSeconds, 600),
      usages: SERVING_USAGES,
      roots,
      approval: "meshca's own serving certificate (PILOT_CERT_PROVIDER)",
      timeoutMs: opts.timeoutMs,
      log: opts.log,
    });
    return {
      certChainPem: chain.map((c) => c.pem).join(''),
      rootsPem: roots.map((r) => r.pem).join(''),
      notAfter: chain[0]!.notAfter,
    };
  };
}
