// The offline hierarchy's settings, named after Istio's Makefile.selfsigned.mk variables. Defaults
// differ in two places: the key type (EC P-256 unless a key size or --key-type says RSA) and the
// intermediate's lifetime (3650 days, like the root; Istio's common.mk has 730).
import type { KeyType, NameSpec } from '../../pki/types.js';

/** The Makefile's variables that `meshca certs` reads (as VAR=value, environment variables or flags). */
export const MAKEFILE_VARIABLES = [
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
  'SERVICE_ACCOUNT',
  'TRUST_DOMAIN',
] as const;
export type MakefileVariable = (typeof MAKEFILE_VARIABLES)[number];

export interface RootProfile {
  days: number;
  keyType: KeyType;
  subject: NameSpec;
}

export interface IntermediateProfile {
  days: number;
  keyType: KeyType;
  /** `L=<cluster name>` is added to this subject, as the Makefile does. */
  org: string;
  cn: string;
  sanDns: string[];
}

export interface WorkloadProfile {
  days: number;
  keyType: KeyType;
  serviceAccount: string;
  trustDomain: string;
}

export const DEFAULT_ROOT: RootProfile = {
  days: 3650,
  keyType: 'ec-p256',
  subject: { O: 'Istio', CN: 'Root CA' },
};
export const DEFAULT_INTERMEDIATE: IntermediateProfile = {
  days: 3650,
  keyType: 'ec-p256',
  org: 'Istio',
  cn: 'Intermediate CA',
  sanDns: ['istiod.istio-system.svc'],
};
export const DEFAULT_WORKLOAD: WorkloadProfile = {
  days: 1,
  keyType: 'ec-p256',
  serviceAccount: 'default',
  trustDomain: 'cluster.local',
};

/** Istio's file names, so Istio's docs and `kubectl create secret generic cacerts --from-file=…` work unchanged. */
export const ROOT_FILES = {
  cert: 'root-cert.pem',
  key: 'root-key.pem',
  conf: 'root-ca.conf',
  csr: 'root-cert.csr',
} as const;
export const INTERMEDIATE_FILES = {
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  root: 'root-cert.pem',
  csr: 'cluster-ca.csr',
  conf: 'intermediate.conf',
} as const;
export const WORKLOAD_FILES = {
  cert: 'workload-cert.pem',
  key: 'key.pem',
  chain: 'workload-cert-chain.pem',
  root: 'root-cert.pem',
} as const;
