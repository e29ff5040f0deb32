// The mesh configuration when there are no files: Istio's defaults (trust domain cluster.local,
// root namespace istio-system), meshca signing itself, no signers, no policies.
import { deepFreeze, frozenMap } from '../lib/deep-freeze.js';
import type { MeshConfig } from './types.js';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

export function defaultMeshConfig(): MeshConfig {
  return deepFreeze({
    trustDomain: DEFAULT_TRUST_DOMAIN,
    rootNamespace: DEFAULT_ROOT_NAMESPACE,
    caCertificates: [],
    raMode: false,
    proxyConfigs: frozenMap([]),
    peerAuthentications: [],
    signers: [],
  });
}
