// Which external signer signs a workload's CSR (Istio's order: the request's CertSigner, the
// namespace's ProxyConfig, the mesh default), and the tenancy rule that pins a namespace to its signer.
import { permissionDenied } from '../errors.js';
import { capCallerText } from '../log.js';
import { fullSignerName } from './full-signer-name.js';
import type { MeshConfig } from './types.js';

export interface SignerRequest {
  /** The caller's namespace, from its authenticated identity (never from the request). */
  namespace: string;
  /** The `CertSigner` request metadata (the workload's ISTIO_META_CERT_SIGNER); '' counts as absent. */
  requested?: string;
}

/**
 * The full name of the signer for this request, or undefined when nothing names one (meshca signs).
 * A namespace whose own ProxyConfig names a signer may not ask for another one: that throws
 * MESH_SIGNER_NOT_ALLOWED (permission-denied), so one tenant cannot get certificates its peers'
 * roots trust. The root namespace's ProxyConfig pins the root namespace too, as it is its own.
 */
export function resolveSigner(config: MeshConfig, request: SignerRequest): string | undefined {
  const own = config.proxyConfigs.get(request.namespace)?.certSigner;
  const allowed = own === undefined ? undefined : fullSignerName(own, config);
  if (request.requested !== undefined && request.requested !== '') {
    const requested = fullSignerName(request.requested, config);
    if (allowed !== undefined && requested !== allowed) {
      throw permissionDenied(
        'MESH_SIGNER_NOT_ALLOWED',
        `namespace ${request.namespace} may only use signer ${allowed} (its ProxyConfig), but the request asked for signer ${capCallerText(requested)}; remove ISTIO_META_CERT_SIGNER from the workload, or change the namespace's ProxyConfig`,
      );
    }
    return requested;
  }
  if (allowed !== undefined) return allowed;
  const meshWide = config.proxyConfigs.get(config.rootNamespace)?.certSigner ?? config.defaultCertSigner;
  if (meshWide !== undefined) return fullSignerName(meshWide, config);
  return config.k8sSigner;
}
