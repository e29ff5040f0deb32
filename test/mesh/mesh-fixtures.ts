// Shared test material for mesh/: temp directories, certificates minted by the real openssl, and the
// YAML of Istio's "Custom CA Integration using Kubernetes CSR" task, written as Istio's docs write it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_ROOT } from '../../src/ca/offline/profile.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { MeshConfigError } from '../../src/mesh/mesh-config-error.js';

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshca-mesh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A self-signed CA certificate (PEM) and its key, made by openssl as an independent tool. */
export function makeCa(dir: string, cn: string): { cert: string; key: string } {
  const certFile = join(dir, `${cn}-ca.crt`);
  const keyFile = join(dir, `${cn}-ca.key`);
  // biome-ignore format: the flags read best in their pairs
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/O=meshca test/CN=${cn}`, '-days', '2', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'pipe' });
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/** `sed 's/^/         /'`, as the task indents each exported root under `- pem: |`. */
export function indent(pem: string, spaces = 9): string {
  return pem
    .trimEnd()
    .split('\n')
    .map((line) => `${' '.repeat(spaces)}${line}`)
    .join('\n');
}

/** The task's istio.yaml, with the three ClusterIssuers' roots filled in. */
export function istioYaml(roots: { istioca: string; fooca: string; barca: string }): string {
  return `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    defaultConfig:
      proxyMetadata:
        ISTIO_META_CERT_SIGNER: istio-system
    caCertificates:
    - pem: |
${indent(roots.istioca)}
      certSigners:
      - clusterissuers.cert-manager.io/istio-system
    - pem: |
${indent(roots.fooca)}
      certSigners:
      - clusterissuers.cert-manager.io/foo
    - pem: |
${indent(roots.barca)}
      certSigners:
      - clusterissuers.cert-manager.io/bar
  components:
    pilot:
      k8s:
        env:
        - name: CERT_SIGNER_DOMAIN
          value: clusterissuers.cert-manager.io
        - name: EXTERNAL_CA
          value: ISTIOD_RA_KUBERNETES_API
        - name: PILOT_CERT_PROVIDER
          value: k8s.io/clusterissuers.cert-manager.io/istio-system
        overlays:
          - kind: ClusterRole
            name: istiod-clusterrole-istio-system
            patches:
              - path: rules[-1]
                value: |
                  apiGroups:
                  - certificates.k8s.io
                  resourceNames:
                  - clusterissuers.cert-manager.io/foo
                  - clusterissuers.cert-manager.io/bar
                  - clusterissuers.cert-manager.io/istio-system
                  resources:
                  - signers
                  verbs:
                  - approve
`;
}

export const PROXYCONFIG_BAR = `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata:
  name: barpc
  namespace: bar
spec:
  environmentVariables:
    ISTIO_META_CERT_SIGNER: bar
`;

export const PROXYCONFIG_FOO = `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata:
  name: foopc
  namespace: foo
spec:
  environmentVariables:
    ISTIO_META_CERT_SIGNER: foo
`;

/** Writes the task's three files into `dir` (istio.yaml, proxyconfig-bar.yaml, proxyconfig-foo.yaml). */
export function writeTaskFiles(dir: string, work: string): { istioca: string; fooca: string; barca: string } {
  const roots = {
    istioca: makeCa(work, 'istio-system').cert,
    fooca: makeCa(work, 'foo').cert,
    barca: makeCa(work, 'bar').cert,
  };
  write(join(dir, 'istio.yaml'), istioYaml(roots));
  write(join(dir, 'proxyconfig-bar.yaml'), PROXYCONFIG_BAR);
  write(join(dir, 'proxyconfig-foo.yaml'), PROXYCONFIG_FOO);
  return roots;
}

/** Loads `yaml` as the only file of a fresh directory and returns the problems, with the file shown as $F. */
export async function problemsOf(
  t: { after(fn: () => void): void },
  yaml: string,
  opts: { dataDir?: string; setup?: (dir: string) => void } = {},
): Promise<string[]> {
  const dir = tempDir(t);
  const file = write(join(dir, 'mesh.yaml'), yaml);
  opts.setup?.(dir);
  const err = await loadMeshConfig(dir, opts).then(
    () => assert.fail('the configuration was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MeshConfigError, String(err));
  assert.equal(err.code, 'MESH_CONFIG_INVALID');
  assert.equal(err.kind, 'config');
  return err.problems.map((p) => p.replaceAll(file, '$F').replaceAll(dir, '$D'));
}

/** cert-manager's CA ClusterIssuer reading the key pair in the secret `secretName`. */
export function clusterIssuerYaml(name: string, secretName: string): string {
  return `apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: ${name}\nspec:\n  ca:\n    secretName: ${secretName}\n`;
}

/** The task's three signers, each with a root of its own. */
export const TASK_SIGNERS = ['istio-system', 'foo', 'bar'] as const;

/**
 * The custom-CA task as a CA's data directory: for each signer a root (made by `meshca certs`' own
 * code) in the kubernetes.io/tls secret folder `<dataDir>/secrets/<signer>-ca-selfsigned`, and in
 * `<dataDir>/config` the task's istio.yaml, ProxyConfigs for foo and bar, and the ClusterIssuers.
 * Resolves with each signer's root and the config directory.
 */
export async function writeTaskRegistrationAuthority(
  dataDir: string,
): Promise<{ roots: Record<(typeof TASK_SIGNERS)[number], string>; config: string }> {
  const roots = {} as Record<(typeof TASK_SIGNERS)[number], string>;
  for (const name of TASK_SIGNERS) {
    const dir = join(dataDir, 'secrets', `${name}-ca-selfsigned`);
    mkdirSync(dir, { recursive: true });
    const made = await makeRootCa({
      dir,
      profile: { ...DEFAULT_ROOT, subject: { O: 'cert-manager', CN: `${name} root` } },
    });
    writeFileSync(join(dir, 'tls.crt'), made.certificate.pem);
    writeFileSync(join(dir, 'tls.key'), readFileSync(join(dir, 'root-key.pem')), { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), made.certificate.pem);
    roots[name] = made.certificate.pem;
  }
  const config = join(dataDir, 'config');
  write(
    join(config, 'istio.yaml'),
    istioYaml({ istioca: roots['istio-system'], fooca: roots.foo, barca: roots.bar }),
  );
  write(join(config, 'proxyconfig-foo.yaml'), PROXYCONFIG_FOO);
  write(join(config, 'proxyconfig-bar.yaml'), PROXYCONFIG_BAR);
  write(
    join(config, 'issuers.yaml'),
    TASK_SIGNERS.map((n) => clusterIssuerYaml(n, `${n}-ca-selfsigned`)).join('---\n'),
  );
  return { roots, config };
}
