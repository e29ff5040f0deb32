// What a StepClusterIssuer (cert-manager's step-issuer) needs to reach a running step-ca through one of
// its JWK provisioners, shaped so it also spreads into createStepCaSigner's options.
import { configError } from '../../../src/index.js';
import type { StartedProvisioner } from './write-step-ca-config.js';

export interface StepCaJwkIssuer {
  /** step-ca's base URL: the issuer's `spec.url`. */
  url: string;
  /** step-ca's root: the issuer's `spec.caBundle` (base64 of this PEM there). */
  caBundlePem: string;
  /** `spec.provisioner.name` and `.kid`; the password is what `spec.provisioner.passwordRef` points at. */
  provisioner: { kind: 'JWK'; name: string; kid: string; password: string };
}

/** The JWK provisioner `name` of `ca` (the first JWK one when absent) as StepClusterIssuer settings. */
export function stepCaJwkIssuer(
  ca: { url: string; rootPem: string; provisioners: StartedProvisioner[] },
  name?: string,
): StepCaJwkIssuer {
  const found = ca.provisioners.find((p) => p.type === 'JWK' && (name === undefined || p.name === name));
  if (!found?.kid || found.password === undefined) {
    const have = ca.provisioners.map((p) => `${p.name} (${p.type})`).join(', ') || 'none';
    throw configError(
      'DEMO_STEP_CA_NO_JWK_PROVISIONER',
      `step-ca at ${ca.url} has no JWK provisioner${name === undefined ? '' : ` named "${name}"`} (it has: ${have}); add one to the provisioners it is started with`,
    );
  }
  return {
    url: ca.url,
    caBundlePem: ca.rootPem,
    provisioner: { kind: 'JWK', name: found.name, kid: found.kid, password: found.password },
  };
}
