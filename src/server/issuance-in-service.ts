// Who signs what the CA issues: CA mode (its own bundle) or, with Istio YAML (--config), a
// registration authority over named signers. Holds the mesh configuration in force, swaps the
// issuance when a watched change is accepted, and says which signer provides the CA's own serving
// certificate (PILOT_CERT_PROVIDER=k8s.io/<signer>).
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import { configError } from '../errors.js';
import { createCaModeIssuance } from '../issuance/ca-mode-issuance.js';
import type { Issuance } from '../issuance/issuance.js';
import { createRaModeIssuance } from '../issuance/ra-mode-issuance.js';
import { signerDefinitions } from '../issuance/signer-definitions.js';
import { createSignerRegistry, isLocalIssuer } from '../issuance/signer-registry.js';
import {
  kubernetesCsrServingIssuer,
  type ServingIssuer,
} from '../issuance/signers/kubernetes-csr/serving-certificate.js';
import type { KubernetesCsrAccess } from '../issuance/signers/kubernetes-csr-signer.js';
import type { Logger } from '../log.js';
import type { MeshConfig, MeshConfigResult } from '../mesh/types.js';
import { watchMeshConfig } from '../mesh/watch-mesh-config.js';
import type { CaMetrics } from './metrics.js';
import { signerRootExpiry } from './signer-root-expiry.js';

export interface IssuanceInService {
  /** The issuance for the next request (read once per request). */
  current(): Issuance;
  /** The mesh configuration in force, if the CA was given one. */
  config(): MeshConfig | undefined;
  /** The CA of the signer that provides the serving certificate, when PILOT_CERT_PROVIDER names one. */
  readonly servingCa: CertificateAuthority | undefined;
  /** Where the serving certificate comes from when PILOT_CERT_PROVIDER names a Kubernetes CSR signer. */
  readonly servingIssuer: ServingIssuer | undefined;
  /** Re-reads the mesh configuration (SIGHUP). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

export async function startIssuance(opts: {
  ca: CertificateAuthority;
  mesh: { path: string; initial: MeshConfigResult; dataDir?: string } | undefined;
  trustDomain: string;
  signerTimeoutMs: number | undefined;
  reloadDebounceMs: number | undefined;
  /** The Kubernetes home's CSR API: caCertificates signers without a local definition go through it. */
  kubernetesCsr?: KubernetesCsrAccess;
  metrics: CaMetrics;
  log: Logger;
}): Promise<IssuanceInService> {
  const { ca, metrics, log } = opts;
  const signers = createSignerRegistry({
    log,
    timeoutMs: opts.signerTimeoutMs ?? 60_000,
    debounceMs: opts.reloadDebounceMs,
    kubernetesCsr: opts.kubernetesCsr,
  });
  const definitions = (config: MeshConfig) => signerDefinitions(config, opts.kubernetesCsr !== undefined);
  const buildIssuance = (config: MeshConfig | undefined): Issuance =>
    config?.raMode
      ? createRaModeIssuance({
          config,
          signers,
          trustDomain: opts.trustDomain,
          timeoutMs: opts.signerTimeoutMs,
        })
      : createCaModeIssuance(ca, opts.trustDomain);
  let meshConfig = opts.mesh?.initial.config;
  if (opts.mesh) {
    for (const note of opts.mesh.initial.notes) log.info(note, { event: 'config-note' });
    await signers.update(definitions(meshConfig!));
  }
  let issuance = buildIssuance(meshConfig);
  metrics.trackSignerRoots(signerRootExpiry(meshConfig));
  if (meshConfig?.raMode) {
    log.info('registration-authority mode: CSRs go to external signers', {
      event: 'ra-mode',
      signers: signers.names(),
    });
  }
  // PILOT_CERT_PROVIDER=k8s.io/<signer>: the server's own certificate comes from that signer.
  const provider = meshConfig?.pilotCertProvider?.startsWith('k8s.io/')
    ? meshConfig.pilotCertProvider.slice('k8s.io/'.length)
    : undefined;
  const providerSigner = provider ? signers.get(provider) : undefined;
  const providerViaCsr =
    provider && meshConfig && opts.kubernetesCsr
      ? definitions(meshConfig).find((d) => d.name === provider && d.kind === 'KubernetesCSR')
      : undefined;
  const servingIssuer =
    providerViaCsr?.kind === 'KubernetesCSR' && opts.kubernetesCsr
      ? kubernetesCsrServingIssuer({
          access: opts.kubernetesCsr,
          signerName: providerViaCsr.name,
          rootsPem: () => {
            const now = definitions(meshConfig!).find((d) => d.name === providerViaCsr.name);
            return now?.kind === 'KubernetesCSR' ? now.rootsPem : providerViaCsr.rootsPem;
          },
          timeoutMs: opts.signerTimeoutMs ?? 60_000,
          log,
        })
      : undefined;
  if (provider && !isLocalIssuer(providerSigner) && !servingIssuer) {
    await signers.close();
    throw configError(
      'SERVER_CERT_PROVIDER_UNSUPPORTED',
      `PILOT_CERT_PROVIDER=k8s.io/${provider}: ${providerSigner ? "only a ClusterIssuer signer (a local folder, or in the Kubernetes home one reached through the CSR API) can provide the CA server's certificate" : 'no such signer is configured'}; define it as a ClusterIssuer, or use PILOT_CERT_PROVIDER=istiod`,
    );
  }
  const meshWatch = opts.mesh
    ? watchMeshConfig(opts.mesh.path, {
        dataDir: opts.mesh.dataDir,
        current: opts.mesh.initial,
        debounceMs: opts.reloadDebounceMs,
        onChange(result) {
          void signers.update(definitions(result.config)).then(
            () => {
              meshConfig = result.config;
              issuance = buildIssuance(meshConfig);
              metrics.trackSignerRoots(signerRootExpiry(meshConfig));
              for (const note of result.notes) log.info(note, { event: 'config-note' });
              log.info('mesh configuration reloaded', {
                event: 'config-reloaded',
                raMode: meshConfig.raMode,
                signers: signers.names(),
              });
            },
            (err: Error) => {
              metrics.reloadFailures.inc();
              log.error('mesh configuration refused; the last good one stays in force', {
                event: 'config-reload-failed',
                reason: err.message,
              });
            },
          );
        },
        onError(err) {
          metrics.reloadFailures.inc();
          log.error('mesh configuration refused; the last good one stays in force', {
            event: 'config-reload-failed',
            code: err.code,
            reason: err.message,
          });
        },
      })
    : undefined;

  return {
    current: () => issuance,
    config: () => meshConfig,
    servingCa: isLocalIssuer(providerSigner) ? providerSigner.ca : undefined,
    servingIssuer,
    async reload() {
      await meshWatch?.reload();
    },
    async close() {
      meshWatch?.close();
      await signers.close();
    },
  };
}
