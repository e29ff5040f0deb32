// Istio's rule for naming the signer a workload asked for: a bare name is prefixed with
// CERT_SIGNER_DOMAIN (`<domain>/<name>`); a full name (`<domain>/<name>`) is used as is.
import { invalidInput } from '../errors.js';
import { quote } from './names.js';
import type { MeshConfig } from './types.js';

/** Throws MESH_SIGNER_NAME_UNQUALIFIED (invalid-input) for a bare name when CERT_SIGNER_DOMAIN is unset. */
export function fullSignerName(name: string, config: MeshConfig): string {
  if (name.includes('/')) return name;
  if (config.certSignerDomain === undefined) {
    throw invalidInput(
      'MESH_SIGNER_NAME_UNQUALIFIED',
      `signer ${quote(name)} is a bare name and the mesh sets no CERT_SIGNER_DOMAIN to complete it; ask for the full signer name (<domain>/<name>), or set CERT_SIGNER_DOMAIN in the IstioOperator`,
    );
  }
  return `${config.certSignerDomain}/${name}`;
}
