// The environment a demo gives its children: the user's, minus every setting meshca reads, so the
// demo plays the task with the documented defaults whatever the shell has exported.

// Istio's names that meshca honours (see README, "Settings"), and the certificate Makefile's.
const SETTINGS = new Set([
  'CA_ADDR',
  'OUTPUT_CERTS',
  'POD_NAMESPACE',
  'SERVICE_ACCOUNT',
  'TRUST_DOMAIN',
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
  'ROOTCA_DAYS',
  'ROOTCA_KEYSZ',
  'ROOTCA_ORG',
  'ROOTCA_CN',
  'INTERMEDIATE_DAYS',
  'INTERMEDIATE_KEYSZ',
  'INTERMEDIATE_ORG',
  'INTERMEDIATE_CN',
  'INTERMEDIATE_SAN_DNS',
  'WORKLOAD_DAYS',
]);

/** `env` without meshca's and Istio's settings (MESHCA_*, ISTIO_*, ISTIOD_* and the names above). */
export function demoChildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !SETTINGS.has(name) && !/^(MESHCA|ISTIO|ISTIOD)_/.test(name)),
  );
}
