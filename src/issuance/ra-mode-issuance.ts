// Registration-authority mode (Istio's EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API): authenticate and
// authorize as the CA would, validate the CSR as Istio's RA does, forward it to the workload's
// signer, check the chain against that signer's root, and hand out only that root.
import { caUnusable, errorForCode, isMeshcaError, unavailable } from '../errors.js';
import { capCallerText } from '../log.js';
import { fullSignerName } from '../mesh/full-signer-name.js';
import { resolveSigner } from '../mesh/resolve-signer.js';
import { rootsForSigner } from '../mesh/roots-for-signer.js';
import type { MeshConfig } from '../mesh/types.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { formatWorkloadId } from '../pki/spiffe-id.js';
import type { CertificateInfo } from '../pki/types.js';
import { verifyChain } from '../pki/verify-chain.js';
import type { Issuance } from './issuance.js';
import type { SignerRegistry } from './signer-registry.js';
import { checkCsrForExternalSigner } from './validate-csr.js';

/** Istio waits this long for a Kubernetes CSR to be signed. */
export const DEFAULT_SIGNER_TIMEOUT_MS = 60_000;

export function createRaModeIssuance(opts: {
  config: MeshConfig;
  signers: SignerRegistry;
  timeoutMs?: number;
  trustDomain: string;
}): Issuance {
  const { config, signers } = opts;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SIGNER_TIMEOUT_MS;
  const rootsCache = new Map<string, { pem: string; certs: CertificateInfo[] }>();
  const rootsOf = (signerName: string) => {
    let cached = rootsCache.get(signerName);
    if (!cached) {
      const pems = rootsForSigner(config, signerName);
      cached = {
        pem: pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''),
        certs: pems.flatMap((p) => parseCertificates(p, `caCertificates for ${signerName}`)),
      };
      rootsCache.set(signerName, cached);
    }
    return cached;
  };
  const providerSigner = config.pilotCertProvider?.startsWith('k8s.io/')
    ? config.pilotCertProvider.slice('k8s.io/'.length)
    : undefined;

  return {
    async issue(request) {
      const spiffeId = formatWorkloadId({
        trustDomain: opts.trustDomain,
        namespace: request.caller.namespace,
        serviceAccount: request.caller.serviceAccount,
      });
      const signerName = resolveSigner(config, {
        namespace: request.caller.namespace,
        requested: request.certSigner,
      });
      if (!signerName) {
        throw caUnusable(
          'RA_NO_SIGNER',
          `no signer for namespace ${request.caller.namespace}: set ISTIO_META_CERT_SIGNER on the workload, a ProxyConfig for the namespace, or meshConfig.defaultConfig.proxyMetadata.ISTIO_META_CERT_SIGNER`,
        );
      }
      const signer = signers.get(signerName);
      if (!signer) {
        throw caUnusable(
          'RA_UNKNOWN_SIGNER',
          `signer ${capCallerText(signerName)} is not configured; define a ClusterIssuer or StepClusterIssuer with that name (configured: ${signers.names().join(', ') || 'none'})`,
        );
      }
      const roots = rootsOf(signerName);
      if (roots.certs.length === 0) {
        throw caUnusable(
          'RA_SIGNER_NO_ROOT',
          `signer ${signerName} has no root in meshConfig.caCertificates; add an entry with its root certificate and certSigners: [${signerName}]`,
        );
      }
      checkCsrForExternalSigner(request.csr, spiffeId);
      let signed: Awaited<ReturnType<typeof signer.sign>>;
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        signed = await signer.sign(
          {
            csrPem: request.csrPem,
            csr: request.csr,
            spiffeId,
            ttlSeconds: request.ttlSeconds,
            requestId: request.requestId,
          },
          timeout,
        );
      } catch (err) {
        if (timeout.aborted && !(isMeshcaError(err) && err.kind !== 'unavailable')) {
          throw unavailable(
            'RA_SIGNER_TIMEOUT',
            `signer ${signerName} did not sign within ${timeoutMs / 1000} s; check that it is running and reachable`,
            err,
          );
        }
        if (isMeshcaError(err))
          throw errorForCode(err.code, `signer ${signerName}: ${err.message}`, { cause: err });
        throw unavailable('RA_SIGNER_FAILED', `signer ${signerName} failed: ${(err as Error)?.message}`, err);
      }
      const certs = signed.chain.flatMap((pem) =>
        parseCertificates(pem, `the chain from signer ${signerName}`),
      );
      const leaf = certs[0];
      // A trailing root is dropped: each workload gets its signer's root from caCertificates, once.
      const chain = certs.filter((c, i) => i === 0 || !c.selfSigned);
      const verdict = leaf
        ? verifyChain({ leaf, intermediates: chain.slice(1), roots: roots.certs })
        : { ok: false as const, reasons: ['the signer returned no certificate'] };
      if (!verdict.ok) {
        throw caUnusable(
          'RA_CHAIN_UNTRUSTED',
          `the chain from signer ${signerName} does not verify against its root in meshConfig.caCertificates: ${verdict.reasons.join('; ')}; make caCertificates hold the signer's current root`,
        );
      }
      if (leaf!.uris.length !== 1 || leaf!.uris[0] !== spiffeId) {
        throw caUnusable(
          'RA_SIGNER_WRONG_IDENTITY',
          `signer ${signerName} issued a certificate for ${leaf!.uris.join(', ') || 'no URI'} instead of ${spiffeId}`,
        );
      }
      return {
        certChain: [...chain.map((c) => c.pem), roots.pem],
        signer: signerName,
        serialHex: leaf!.serialHex,
        spiffeId,
      };
    },
    rootsPem: () => (providerSigner ? rootsOf(providerSigner).pem : ''),
    knownSigner(requested) {
      let full: string;
      try {
        full = fullSignerName(requested, config);
      } catch {
        return undefined; // a bare name with no CERT_SIGNER_DOMAIN names nothing
      }
      return signers.get(full) ? full : undefined;
    },
  };
}
