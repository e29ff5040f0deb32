// Which signers the RA builds: the ones the mesh YAML defines (local ClusterIssuer folders,
// StepClusterIssuers) and, in the Kubernetes home, every other signer that meshConfig.caCertificates
// names, reached through the cluster's CSR API as Istio's ISTIOD_RA_KUBERNETES_API does: there the
// ClusterIssuers live in the cluster, and caCertificates is what says which signers exist.
import type { MeshConfig, SignerDefinition } from '../mesh/types.js';
import type { KubernetesCsrSignerDefinition } from './signers/kubernetes-csr-signer.js';

export type AnySignerDefinition = SignerDefinition | KubernetesCsrSignerDefinition;

export function signerDefinitions(config: MeshConfig, kubernetesCsr: boolean): AnySignerDefinition[] {
  const defined: AnySignerDefinition[] = [...config.signers];
  if (!kubernetesCsr || !config.raMode) return defined;
  const local = new Set(defined.map((d) => d.name));
  const viaCsr = new Map<string, { rootsPem: string[]; sources: string[] }>();
  for (const entry of config.caCertificates) {
    for (const name of entry.certSigners) {
      if (local.has(name)) continue;
      const signer = viaCsr.get(name) ?? { rootsPem: [], sources: [] };
      signer.rootsPem.push(...entry.certificates);
      signer.sources.push(entry.source);
      viaCsr.set(name, signer);
    }
  }
  for (const [name, { rootsPem, sources }] of viaCsr) {
    defined.push({
      kind: 'KubernetesCSR',
      name,
      rootsPem: [...new Set(rootsPem)],
      source: `meshConfig.caCertificates (${[...new Set(sources)].join('; ')})`,
    });
  }
  return defined;
}
