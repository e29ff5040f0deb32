// The mutual-TLS mode a workload's inbound port runs with, composed as Istio does: mesh-wide policy,
// then namespace-wide, then the workload's own, each UNSET level inheriting, then the port's override.
import type { EffectiveMtlsMode, MeshConfig, MtlsMode, PeerAuthenticationPolicy } from './types.js';

export interface WorkloadPort {
  namespace: string;
  labels?: Readonly<Record<string, string>>;
  port?: number;
}

function selects(
  policy: PeerAuthenticationPolicy,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (policy.selector === undefined || labels === undefined) return false;
  return Object.entries(policy.selector).every(([key, value]) => labels[key] === value);
}

/** STRICT, PERMISSIVE or DISABLE; PERMISSIVE when no policy decides. Of rival policies the first loaded wins. */
export function peerAuthenticationMode(config: MeshConfig, workload: WorkloadPort): EffectiveMtlsMode {
  const policies = config.peerAuthentications;
  const root = config.rootNamespace;
  const inRoot = workload.namespace === root;
  const mesh = policies.find((p) => p.namespace === root && p.selector === undefined);
  // The root namespace's namespace-wide policy is the mesh's; selectors there apply to nothing.
  const namespaceWide = inRoot
    ? undefined
    : policies.find((p) => p.namespace === workload.namespace && p.selector === undefined);
  const own = inRoot
    ? undefined
    : policies.find((p) => p.namespace === workload.namespace && selects(p, workload.labels));

  let mode: MtlsMode = 'UNSET';
  for (const level of [mesh, namespaceWide, own]) {
    if (level !== undefined && level.mode !== 'UNSET') mode = level.mode;
  }
  // Port overrides belong to workload policies only (Istio refuses them elsewhere); UNSET keeps the workload's mode.
  const portMode =
    own !== undefined && workload.port !== undefined ? own.portLevelMtls.get(workload.port) : undefined;
  if (portMode !== undefined && portMode !== 'UNSET') mode = portMode;
  return mode === 'UNSET' ? 'PERMISSIVE' : mode;
}
