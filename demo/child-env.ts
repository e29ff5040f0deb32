// The environment a demo gives its children: the user's, minus every setting meshca reads, so the
// demo plays the task with the documented defaults whatever the shell has exported.
import { MAKEFILE_VARIABLES } from '../src/index.js';

// Istio's names that meshca honours (see README, "Settings"), and the certificate Makefile's.
const SETTINGS = new Set<string>([
  'CA_ADDR',
  'OUTPUT_CERTS',
  'POD_NAMESPACE',
  'JWT_RULE',
  'SECRET_TTL',
  'SECRET_GRACE_PERIOD_RATIO',
  'ECC_SIGNATURE_ALGORITHM',
  'ECC_CURVE',
  'DEFAULT_WORKLOAD_CERT_TTL',
  'MAX_WORKLOAD_CERT_TTL',
  'PILOT_CERT_PROVIDER',
  'EXTERNAL_CA',
  'K8S_SIGNER',
  ...MAKEFILE_VARIABLES,
]);

/** `env` without meshca's and Istio's settings (MESHCA_*, ISTIO_*, ISTIOD_* and the names above). */
export function demoChildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !SETTINGS.has(name) && !/^(MESHCA|ISTIO|ISTIOD)_/.test(name)),
  );
}
