// Shared test material for mesh/: temp directories, certificates minted by the real openssl, and the
// YAML of Istio's "Custom CA Integration using Kubernetes CSR" task, written as Istio's docs write it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
