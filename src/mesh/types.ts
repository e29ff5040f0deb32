// The mesh configuration meshca reads from Istio's, cert-manager's and step-issuer's YAML kinds:
// plain, deeply frozen data that the rules in this folder (and the layers above) read.

/** `spec.mtls.mode` of a PeerAuthentication; UNSET inherits from the level above. */
export type MtlsMode = 'UNSET' | 'STRICT' | 'PERMISSIVE' | 'DISABLE';
export const MTLS_MODES: readonly MtlsMode[] = ['UNSET', 'STRICT', 'PERMISSIVE', 'DISABLE'];

/** What a workload's inbound connections accept once every level has been applied. */
export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

/** One `spec.meshConfig.caCertificates[]` entry of the IstioOperator. */
export interface CaCertificatesEntry {
  /** The `pem` text as written. */
  readonly pem: string;
  /** Each certificate of `pem`, re-encoded as one PEM block (a root handed to workloads). */
  readonly certificates: readonly string[];
  /** Full signer names (`clusterissuers.cert-manager.io/foo`) whose workloads get these roots. */
  readonly certSigners: readonly string[];
  readonly trustDomains: readonly string[];
  /** Where it was written, e.g. `config/istio.yaml: document 1 (IstioOperator)`, for logs. */
  readonly source: string;
}

/** The signer a namespace's ProxyConfig names (as written: bare or full); undefined when it names none. */
export interface ProxyConfigEntry {
  readonly certSigner?: string;
  readonly source: string;
}

export interface PeerAuthenticationPolicy {
  readonly name: string;
  readonly namespace: string;
  /** `spec.selector.matchLabels`; undefined (or empty in the file) makes the policy namespace-wide. */
  readonly selector?: Readonly<Record<string, string>>;
  readonly mode: MtlsMode;
  /** `spec.portLevelMtls`, by workload port. */
  readonly portLevelMtls: ReadonlyMap<number, MtlsMode>;
  readonly source: string;
}

/** A cert-manager CA issuer: the signing certificate and key live in `secretDir` (`tls.crt`, `tls.key`). */
export interface CertManagerSignerDefinition {
  readonly kind: 'ClusterIssuer' | 'Issuer';
  /** Full signer name: `clusterissuers.cert-manager.io/<name>` or `issuers.cert-manager.io/<namespace>.<name>`. */
  readonly name: string;
  readonly secretDir: string;
  readonly source: string;
}

/** A step-ca online CA reached through a JWK provisioner, as smallstep's step-issuer configures it. */
export interface StepSignerDefinition {
  readonly kind: 'StepClusterIssuer';
  /** Full signer name: `stepclusterissuers.certmanager.step.sm/<name>`. */
  readonly name: string;
  readonly url: string;
  /** The CA's root(s), decoded from `spec.caBundle`. */
  readonly caBundlePem: string;
  readonly provisioner: {
    readonly name: string;
    readonly kid: string;
    /** The file holding the password that decrypts the provisioner's key. */
    readonly passwordFile: string;
  };
  readonly source: string;
}

export type SignerDefinition = CertManagerSignerDefinition | StepSignerDefinition;

export interface MeshConfig {
  /** `spec.meshConfig.trustDomain`; `cluster.local` by default. */
  readonly trustDomain: string;
  /** `spec.meshConfig.rootNamespace`; `istio-system` by default. Its policies apply mesh-wide. */
  readonly rootNamespace: string;
  /** `spec.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_CERT_SIGNER`, as written. */
  readonly defaultCertSigner?: string;
  readonly caCertificates: readonly CaCertificatesEntry[];
  /** `EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API`: forward CSRs to external signers instead of signing. */
  readonly raMode: boolean;
  /** `CERT_SIGNER_DOMAIN`: what a bare signer name is prefixed with. */
  readonly certSignerDomain?: string;
  /** `PILOT_CERT_PROVIDER`: `istiod`, `kubernetes`, `custom`, `none` or `k8s.io/<signer>`. */
  readonly pilotCertProvider?: string;
  /** `K8S_SIGNER`: in RA mode, the signer of requests that name none and have no ProxyConfig or default. */
  readonly k8sSigner?: string;
  /** ProxyConfig by namespace; the root namespace's entry is the mesh-wide one. */
  readonly proxyConfigs: ReadonlyMap<string, ProxyConfigEntry>;
  /** In load order (files by name, documents in order): the first of two rivals wins, like Istio's oldest. */
  readonly peerAuthentications: readonly PeerAuthenticationPolicy[];
  readonly signers: readonly SignerDefinition[];
}

export interface MeshConfigResult {
  readonly config: MeshConfig;
  /** Things accepted but not used (unknown kinds, ignored fields), one line each, for the log. */
  readonly notes: readonly string[];
  /** The YAML files read, in the order they were read. */
  readonly files: readonly string[];
}
