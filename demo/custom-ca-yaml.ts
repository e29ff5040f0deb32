// The YAML of Istio's "Custom CA Integration using Kubernetes CSR API" task, as templates with the
// task's shell variables (${ISTIOCA}, …): printed as the user would type them, written filled in.

/** One `meshConfig.caCertificates` entry: the variable holding the root, and the signers it is for. */
export interface CaCertificatesEntry {
  variable: string;
  signers: string[];
}

const CLUSTER_ISSUERS = 'clusterissuers.cert-manager.io';
export const STEP_ISSUERS = 'stepclusterissuers.certmanager.step.sm';

/** The task's istio.yaml (IstioOperator): RA mode, one caCertificates entry per signer. */
export function istioYamlTemplate(entries: readonly CaCertificatesEntry[]): string {
  const caCertificates = entries
    .map(
      (e) => `    - pem: |
\${${e.variable}}
      certSigners:
${e.signers.map((s) => `      - ${s}`).join('\n')}`,
    )
    .join('\n');
  // The ClusterRole overlay matters only to Kubernetes RBAC; it stays so the file is the task's own.
  const approvable = entries.flatMap((e) => e.signers).map((s) => `                  - ${s}`);
  return `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    defaultConfig:
      proxyMetadata:
        ISTIO_META_CERT_SIGNER: istio-system
    caCertificates:
${caCertificates}
  components:
    pilot:
      k8s:
        env:
        - name: CERT_SIGNER_DOMAIN
          value: ${CLUSTER_ISSUERS}
        - name: EXTERNAL_CA
          value: ISTIOD_RA_KUBERNETES_API
        - name: PILOT_CERT_PROVIDER
          value: k8s.io/${CLUSTER_ISSUERS}/istio-system
        overlays:
          - kind: ClusterRole
            name: istiod-clusterrole-istio-system
            patches:
              - path: rules[-1]
                value: |
                  apiGroups:
                  - certificates.k8s.io
                  resourceNames:
${approvable.join('\n')}
                  resources:
                  - signers
                  verbs:
                  - approve
`;
}

/** The task's three signers, each root in the variable the task exports it to. */
export const TASK_CA_CERTIFICATES: readonly CaCertificatesEntry[] = [
  { variable: 'ISTIOCA', signers: [`${CLUSTER_ISSUERS}/istio-system`] },
  { variable: 'FOOCA', signers: [`${CLUSTER_ISSUERS}/foo`] },
  { variable: 'BARCA', signers: [`${CLUSTER_ISSUERS}/bar`] },
];

/** A namespace's ProxyConfig naming its signer (a bare name gets CERT_SIGNER_DOMAIN in front). */
export function proxyConfigYaml(namespace: string, signer: string): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata:
  name: ${namespace}pc
  namespace: ${namespace}
spec:
  environmentVariables:
    ISTIO_META_CERT_SIGNER: ${signer}
`;
}

/** cert-manager's CA ClusterIssuer: signs with the key pair in the secret `secretName`. */
export function clusterIssuerYaml(name: string, secretName: string): string {
  return `apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: ${name}
spec:
  ca:
    secretName: ${secretName}
`;
}

/** step-issuer's StepClusterIssuer: a step-ca reached with a JWK provisioner; caBundle stays a variable. */
export function stepClusterIssuerYaml(o: {
  name: string;
  url: string;
  caBundleVariable: string;
  provisioner: { name: string; kid: string };
  passwordRef: { name: string; key: string };
}): string {
  return `apiVersion: certmanager.step.sm/v1beta1
kind: StepClusterIssuer
metadata:
  name: ${o.name}
spec:
  url: ${o.url}
  caBundle: \${${o.caBundleVariable}}
  provisioner:
    name: ${o.provisioner.name}
    kid: ${o.provisioner.kid}
    passwordRef:
      name: ${o.passwordRef.name}
      key: ${o.passwordRef.key}
`;
}

/** `sed 's/^/        /'`: a PEM indented to sit under `- pem: |`, without its last newline. */
export function indentPem(pem: string): string {
  return pem
    .trimEnd()
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');
}
