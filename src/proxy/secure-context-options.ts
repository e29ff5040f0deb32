// The TLS settings every mesh connection uses, built from the workload's current credentials, so
// inbound and outbound sides agree on versions and trust.
import type { SecureContextOptions } from 'node:tls';
import type { WorkloadCredentials } from './load-workload-credentials.js';

/** Istio negotiates TLS 1.2 or 1.3 between sidecars; older versions are never mesh traffic. */
export const MESH_MIN_TLS_VERSION = 'TLSv1.2';

/** Own chain and key to present, and the roots a peer's chain must end in (never the system store). */
export function secureContextOptions(credentials: WorkloadCredentials): SecureContextOptions {
  return {
    cert: credentials.certChainPem,
    key: credentials.keyPem,
    ca: credentials.rootsPem,
    minVersion: MESH_MIN_TLS_VERSION,
  };
}
