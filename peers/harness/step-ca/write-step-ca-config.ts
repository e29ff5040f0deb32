// A step-ca home as `step ca init` would leave it, but from certificates meshca made: the root and
// intermediate, the intermediate's key, a SPIFFE X509-SVID leaf template and ca.json with JWK/X5C provisioners.
import { join, resolve } from 'node:path';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../../../src/index.js';
import { makeJwkProvisioner } from './make-jwk-provisioner.js';

/** Go durations (`"1h"`, `"90s"`), as step-ca's `claims` block takes them. */
export interface StepCaClaims {
  minTLSCertDuration?: string;
  maxTLSCertDuration?: string;
  defaultTLSCertDuration?: string;
}

export type StepCaProvisionerSpec =
  /** A JWK provisioner with a fresh ES256 key, stored encrypted under `password`. */
  | { type: 'JWK'; name: string; password: string; claims?: StepCaClaims }
  /** An X5C provisioner trusting `rootsPem` for the certificate chains in tokens' `x5c` headers. */
  | { type: 'X5C'; name: string; rootsPem: string; claims?: StepCaClaims };

export interface StartedProvisioner {
  type: 'JWK' | 'X5C';
  name: string;
  /** JWK only: the key id (RFC 7638 thumbprint, as step does it): a StepClusterIssuer's `provisioner.kid`. */
  kid?: string;
  /** JWK only: the password that opens the provisioner's key: what a StepClusterIssuer's `passwordRef` holds. */
  password?: string;
}

export interface WriteStepCaConfigOptions {
  /** Where ca.json, the certificates, the template and (once started) the database go. */
  dir: string;
  rootCertPem: string;
  intermediateCertPem: string;
  /** Unencrypted PEM; step-ca reads it without a password file. */
  intermediateKeyPem: string;
  provisioners: StepCaProvisionerSpec[];
  /** Use a SPIFFE X509-SVID template for leaves (default true); false keeps step-ca's default leaf template. */
  templateSpiffe?: boolean;
  /** The port step-ca listens on, on 127.0.0.1. */
  port: number;
  /** Names in step-ca's own TLS certificate; default 127.0.0.1 and localhost. */
  dnsNames?: string[];
}

export interface StepCaConfig {
  /** The absolute directory, with ca.json in it. */
  dir: string;
  configFile: string;
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  rootPem: string;
  provisioners: StartedProvisioner[];
}

export const STEP_CA_FILES = {
  config: 'ca.json',
  root: 'root_ca.crt',
  intermediate: 'intermediate_ca.crt',
  intermediateKey: 'intermediate_ca_key',
  template: 'spiffe-leaf.tpl',
  db: 'db',
} as const;

// The SPIFFE X509-SVID profile: no subject, the single URI SAN from the token, an end-entity cert for mTLS.
const SPIFFE_TEMPLATE = `{
  "subject": {},
  "sans": {{ toJson .SANs }},
  "keyUsage": ["digitalSignature"],
  "extKeyUsage": ["serverAuth", "clientAuth"],
  "basicConstraints": { "isCA": false }
}
`;

/** Writes the step-ca home into `opts.dir` (private keys 0600, every file atomically) and says how to reach it. */
export async function writeStepCaConfig(opts: WriteStepCaConfigOptions): Promise<StepCaConfig> {
  const dir = resolve(opts.dir);
  const file = (name: string) => join(dir, name);
  await writeFileAtomic(file(STEP_CA_FILES.root), opts.rootCertPem);
  await writeFileAtomic(file(STEP_CA_FILES.intermediate), opts.intermediateCertPem);
  await writeFileAtomic(file(STEP_CA_FILES.intermediateKey), opts.intermediateKeyPem, PRIVATE_FILE_MODE);
  const templateFile = file(STEP_CA_FILES.template);
  await writeFileAtomic(templateFile, SPIFFE_TEMPLATE);
  const options = opts.templateSpiffe === false ? undefined : { x509: { templateFile } };

  const provisioners: StartedProvisioner[] = [];
  const entries: object[] = [];
  for (const spec of opts.provisioners) {
    // step-ca refuses a max below the global 24h default, so a lowered max lowers the default with it.
    const c = spec.claims;
    const claims = c ? { claims: { defaultTLSCertDuration: c.maxTLSCertDuration, ...c } } : {};
    if (spec.type === 'JWK') {
      const { entry, kid } = await makeJwkProvisioner(spec.name, spec.password);
      entries.push({ ...entry, ...claims, options });
      provisioners.push({ type: 'JWK', name: spec.name, kid, password: spec.password });
    } else {
      const roots = Buffer.from(spec.rootsPem).toString('base64');
      entries.push({ type: 'X5C', name: spec.name, roots, ...claims, options });
      provisioners.push({ type: 'X5C', name: spec.name });
    }
  }

  const config = {
    root: file(STEP_CA_FILES.root),
    crt: file(STEP_CA_FILES.intermediate),
    key: file(STEP_CA_FILES.intermediateKey),
    address: `127.0.0.1:${opts.port}`,
    dnsNames: opts.dnsNames ?? ['127.0.0.1', 'localhost'],
    logger: { format: 'text' },
    db: { type: 'badgerv2', dataSource: file(STEP_CA_FILES.db) },
    authority: {
      // Wide enough for short and long workload lifetimes; provisioners narrow it with their own claims.
      claims: { minTLSCertDuration: '1m', maxTLSCertDuration: '2160h', defaultTLSCertDuration: '24h' },
      provisioners: entries,
    },
  };
  const configFile = file(STEP_CA_FILES.config);
  // The JWK keys in it are encrypted, but nobody else needs to read them.
  await writeFileAtomic(configFile, `${JSON.stringify(config, null, 2)}\n`, PRIVATE_FILE_MODE);
  return {
    dir,
    configFile,
    url: `https://127.0.0.1:${opts.port}`,
    port: opts.port,
    rootPem: opts.rootCertPem,
    provisioners,
  };
}
