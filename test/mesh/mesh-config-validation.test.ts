// Every problem loadMeshConfig reports, with its exact message, and all of them in one error.
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { indentPem } from '../../demo/custom-ca-yaml.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { caBeforeTests, problemsOf, tempDir, write } from './mesh-fixtures.js';

const ca = caBeforeTests('validation');

const operator = (body: string) => `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
${body}`;

const env = (entries: string) =>
  operator(`  components:
    pilot:
      k8s:
        env:
${entries}`);

const IO = '$F: document 1 (IstioOperator)';
const ENV = `${IO}: spec.components.pilot.k8s.env`;

describe('the error', () => {
  test('lists every problem of every file, in file and document order, under one header', async (t) => {
    const dir = tempDir(t);
    const a = write(
      join(dir, 'a.yaml'),
      `${operator('  meshConfig:\n    trustDomain: Cluster.Local\n')}---\nkind: Proxyconfig\n`,
    );
    const b = write(join(dir, 'b.yaml'), 'bad: [1,\n');
    await assert.rejects(loadMeshConfig(dir), {
      name: 'MeshcaError',
      code: 'MESH_CONFIG_INVALID',
      kind: 'config',
      message: [
        `mesh configuration ${dir} has 3 problems; fix them and reload:`,
        `  ${a}: document 1 (IstioOperator): spec.meshConfig.trustDomain: invalid SPIFFE trust domain "Cluster.Local": the trust domain must be lower-case (use "cluster.local")`,
        `  ${a}: document 2 (Proxyconfig): kind: "Proxyconfig" is not a kind meshca reads; did you mean ProxyConfig?`,
        `  ${b}: document 1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1`,
      ].join('\n'),
    });
  });

  test('says "1 problem" for one', async (t) => {
    const dir = tempDir(t);
    const file = write(join(dir, 'one.yaml'), '- a list\n');
    await assert.rejects(loadMeshConfig(file), {
      message: `mesh configuration ${file} has 1 problem; fix it and reload:\n  ${file}: document 1: is not a Kubernetes object; each document must be a mapping with apiVersion, kind, metadata and spec`,
    });
  });

  test('a missing path is MESH_CONFIG_NOT_FOUND', async (t) => {
    const missing = join(tempDir(t), 'nope.yaml');
    await assert.rejects(loadMeshConfig(missing), {
      code: 'MESH_CONFIG_NOT_FOUND',
      kind: 'config',
      message: `mesh configuration ${missing} does not exist; give a YAML file or a directory of *.yaml files`,
    });
  });
});

describe('documents and kinds', () => {
  test('syntax, shape, kind and apiVersion', async (t) => {
    const yaml = [
      'just text',
      'metadata: {name: x}',
      'kind: PeerAuthentification\napiVersion: security.istio.io/v1',
      'kind: ProxyConfig\nmetadata: {name: p, namespace: foo}',
      'kind: ProxyConfig\napiVersion: networking.istio.io/v1alpha3\nmetadata: {name: p, namespace: foo}',
      'a: 1\na: 2',
    ].join('\n---\n');
    assert.deepEqual(await problemsOf(t, yaml), [
      '$F: document 1: is not a Kubernetes object; each document must be a mapping with apiVersion, kind, metadata and spec',
      '$F: document 2: kind: missing; every document needs apiVersion and kind (e.g. kind: ProxyConfig)',
      '$F: document 3 (PeerAuthentification): kind: "PeerAuthentification" is not a kind meshca reads; did you mean PeerAuthentication?',
      '$F: document 4 (ProxyConfig p): apiVersion: missing; a ProxyConfig has apiVersion networking.istio.io/v1beta1',
      '$F: document 5 (ProxyConfig p): apiVersion: "networking.istio.io/v1alpha3" is not a version meshca reads; use networking.istio.io/v1beta1',
      '$F: document 6: YAML syntax error: Map keys must be unique at line 16, column 1',
    ]);
  });

  test('an unreadable file (a dangling link) is a problem', async (t) => {
    const problems = await problemsOf(t, 'kind: Namespace\napiVersion: v1\nmetadata: {name: foo}\n', {
      setup: (dir) => symlinkSync(join(dir, 'gone'), join(dir, 'z.yaml')),
    });
    assert.deepEqual(problems, ['$D/z.yaml: cannot be read (ENOENT); check that it exists and is readable']);
  });

  test('an object inside a kind: List is located by its item', async (t) => {
    const yaml = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1beta1
  kind: ProxyConfig
  metadata: {name: ok, namespace: foo}
- apiVersion: networking.istio.io/v1beta1
  kind: ProxyConfig
  metadata: {name: bad}
`;
    assert.deepEqual(await problemsOf(t, yaml), [
      '$F: document 1 (ProxyConfig bad): items[1].metadata.namespace: missing; a ProxyConfig applies to its namespace (istio-system for the whole mesh)',
    ]);
  });
});

describe('IstioOperator', () => {
  test('meshConfig fields', async (t) => {
    const yaml = operator(`  meshConfig:
    trustDomain: Cluster.Local
    rootNamespace: Istio_System
    caCertificate: []
    defaultConfig:
      proxyMetadata:
        ISTIO_META_CERT_SIGNER: "has blank"
`);
    assert.deepEqual(await problemsOf(t, yaml), [
      `${IO}: spec.meshConfig.caCertificate: unknown field; did you mean "caCertificates"?`,
      `${IO}: spec.meshConfig.trustDomain: invalid SPIFFE trust domain "Cluster.Local": the trust domain must be lower-case (use "cluster.local")`,
      `${IO}: spec.meshConfig.rootNamespace: "Istio_System" is not a valid namespace name (at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit)`,
      `${IO}: spec.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_CERT_SIGNER: "has blank" is not a signer name: it is empty or has blanks`,
    ]);
  });

  test('caCertificates entries', async (t) => {
    const yaml = operator(`  meshConfig:
    caCertificates:
    - pem: not a certificate
      certSigners: [foo]
    - pem: |
${indentPem(ca.key)}
      trustDomains: [Bad.TD]
    - pem: |
${indentPem(ca.cert)}
      spiffeBundleUrl: https://bundle.example
    - certSigner: [clusterissuers.cert-manager.io/foo]
      pem: ""
    -
    - pem: |
${indentPem(ca.cert.replace(/\n[A-Za-z0-9+/]{64}\n/, '\n'))}
      certSigners: [clusterissuers.cert-manager.io/foo]
`);
    const problems = await problemsOf(t, yaml);
    assert.deepEqual(problems.slice(0, 9), [
      `${IO}: spec.meshConfig.caCertificates[0].certSigners[0]: "foo" is not a full signer name; write <domain>/<name>, e.g. clusterissuers.cert-manager.io/foo`,
      `${IO}: spec.meshConfig.caCertificates[0].pem: holds no "-----BEGIN CERTIFICATE-----" block; paste the CA certificate in PEM form`,
      `${IO}: spec.meshConfig.caCertificates[1].trustDomains[0]: invalid SPIFFE trust domain "Bad.TD": the trust domain must be lower-case (use "bad.td")`,
      `${IO}: spec.meshConfig.caCertificates[1].pem: holds a "PRIVATE KEY" block, not a certificate; paste the CA certificate and keep keys out of the mesh configuration`,
      `${IO}: spec.meshConfig.caCertificates[2]: has both pem and spiffeBundleUrl; give one of them`,
      `${IO}: spec.meshConfig.caCertificates[3].certSigner: unknown field; did you mean "certSigners"?`,
      `${IO}: spec.meshConfig.caCertificates[3].pem: is empty; give the CA certificate in PEM form`,
      `${IO}: spec.meshConfig.caCertificates[4]: is empty; give pem and certSigners`,
      problems[8]!,
    ]);
    // The cut certificate's exact wording is pki's; that it is caught, and where, is ours.
    assert.match(
      problems[8]!,
      /^\$F: document 1 \(IstioOperator\): spec\.meshConfig\.caCertificates\[5\]\.pem: ./,
    );
    assert.equal(problems.length, 9);
  });

  test("istiod's environment", async (t) => {
    const yaml = env(`        - name: EXTERNAL_CA
          value: ISTIOD_RA_ISTIO_API
        - name: CERT_SIGNER_DOMAIN
          value: Not A Domain
        - name: PILOT_CERT_PROVIDER
          value: citadel
        - name: K8S_SIGNER
          value: legacy-unknown
        - name: EXTERNAL_CA
          value: ISTIOD_RA_KUBERNETES_API
        - name: EXTERNAL_CAA
          value: x
        - name: PILOT_CERT_PROVIDER
          valueFrom: {configMapKeyRef: {name: x, key: y}}
        - name: OTHER
          value: 1
          valueFom: {}
        - value: lonely
        - name: CERT_SIGNER_DOMAIN
          value: 8080
`);
    assert.deepEqual(await problemsOf(t, yaml), [
      `${ENV}[0].value: "ISTIOD_RA_ISTIO_API" is not supported; the only external CA mode is ISTIOD_RA_KUBERNETES_API (forward CSRs to external signers); remove EXTERNAL_CA to let meshca sign`,
      `${ENV}[1].value: "Not A Domain" is not a domain name; write the signers' domain, e.g. clusterissuers.cert-manager.io`,
      `${ENV}[2].value: "citadel" is not a certificate provider; use istiod, kubernetes, custom, none or k8s.io/<signer name>`,
      `${ENV}[3].value: "legacy-unknown" is not a full signer name; write <domain>/<name>, e.g. clusterissuers.cert-manager.io/legacy-unknown`,
      `${ENV}[4].name: EXTERNAL_CA is already set by spec.components.pilot.k8s.env[0]; keep one`,
      `${ENV}[5].name: "EXTERNAL_CAA" is not a variable meshca reads; did you mean EXTERNAL_CA?`,
      `${ENV}[6].name: PILOT_CERT_PROVIDER is already set by spec.components.pilot.k8s.env[2]; keep one`,
      `${ENV}[7].valueFom: unknown field; did you mean "valueFrom"?`,
      `${ENV}[8].name: missing; an env entry needs a name`,
      `${ENV}[9].name: CERT_SIGNER_DOMAIN is already set by spec.components.pilot.k8s.env[1]; keep one`,
    ]);
  });

  test('env values: references, types and the k8s.io/ provider form', async (t) => {
    const yaml = env(`        - name: PILOT_CERT_PROVIDER
          value: k8s.io/istio-system
        - name: CERT_SIGNER_DOMAIN
          value: 8080
        - name: EXTERNAL_CA
          valueFrom: {configMapKeyRef: {name: x, key: y}}
        - name: K8S_SIGNER
`);
    assert.deepEqual(await problemsOf(t, yaml), [
      `${ENV}[0].value: "k8s.io/istio-system": after "k8s.io/" comes a signer: "istio-system" is not a full signer name; write <domain>/<name>, e.g. clusterissuers.cert-manager.io/istio-system`,
      `${ENV}[1].value: must be a string, not a number (quote it)`,
      `${ENV}[2].valueFrom: meshca cannot follow Kubernetes references; give EXTERNAL_CA as value`,
      `${ENV}[3].value: missing; give K8S_SIGNER a value`,
    ]);
  });

  test('a CA setting in Helm values must move to the component env', async (t) => {
    const yaml = operator(`  values:
    pilot:
      env:
        EXTERNAL_CA: ISTIOD_RA_KUBERNETES_API
`);
    assert.deepEqual(await problemsOf(t, yaml), [
      `${IO}: spec.values.pilot.env.EXTERNAL_CA: meshca reads EXTERNAL_CA from spec.components.pilot.k8s.env; move it there`,
    ]);
  });

  test('a bare default signer needs CERT_SIGNER_DOMAIN', async (t) => {
    const yaml = operator(`  meshConfig:
    defaultConfig:
      proxyMetadata:
        ISTIO_META_CERT_SIGNER: istio-system
`);
    assert.deepEqual(await problemsOf(t, yaml), [
      `${IO}: spec.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_CERT_SIGNER: "istio-system" is a bare signer name, which needs CERT_SIGNER_DOMAIN (in the IstioOperator's spec.components.pilot.k8s.env) to become a full one; set it, or write the full name, e.g. clusterissuers.cert-manager.io/istio-system`,
    ]);
  });

  test('at most one IstioOperator', async (t) => {
    const yaml = `${operator('  profile: demo\n')}---\n${operator('  profile: minimal\n').replace('spec:', 'metadata: {name: second}\nspec:')}`;
    assert.deepEqual(await problemsOf(t, yaml), [
      '$F: document 2 (IstioOperator second): a second IstioOperator; meshca reads one (the first is $F: document 1 (IstioOperator)): merge them',
    ]);
  });
});

const proxyConfig = (
  name: string,
  namespace: string | undefined,
  spec: string,
) => `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata:
  name: ${name}
${namespace === undefined ? '' : `  namespace: ${namespace}\n`}spec:
${spec}`;

describe('ProxyConfig', () => {
  test('metadata, fields and the signer name', async (t) => {
    const yaml = [
      proxyConfig('nons', undefined, '  concurrency: 2\n'),
      proxyConfig(
        'Bad_Name',
        'Foo',
        '  environmentVariable: {}\n  environmentVariables:\n    ISTIO_META_CERT_SIGNER: ""\n',
      ),
      proxyConfig(
        'sel',
        'foo',
        '  selector:\n    matchLabels: {app: x}\n  environmentVariables:\n    ISTIO_META_CERT_SIGNER: x.io/foo\n',
      ),
      proxyConfig('img', 'foo', '  image: {imageType: distroless}\n  replicas: 2\n'),
    ].join('---\n');
    assert.deepEqual(await problemsOf(t, yaml), [
      '$F: document 1 (ProxyConfig nons): metadata.namespace: missing; a ProxyConfig applies to its namespace (istio-system for the whole mesh)',
      '$F: document 2 (ProxyConfig Bad_Name): metadata.name: "Bad_Name" is not a valid object name (at most 253 characters: dot-separated lower-case letters, digits and "-")',
      '$F: document 2 (ProxyConfig Bad_Name): metadata.namespace: "Foo" is not a valid namespace name (at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit)',
      '$F: document 2 (ProxyConfig Bad_Name): spec.environmentVariable: unknown field; did you mean "environmentVariables"?',
      '$F: document 2 (ProxyConfig Bad_Name): spec.environmentVariables.ISTIO_META_CERT_SIGNER: "" is not a signer name: it is empty or has blanks',
      '$F: document 3 (ProxyConfig sel): spec.selector: meshca applies a ProxyConfig signer to a whole namespace; remove the selector, or give the selected workloads their own namespace',
      '$F: document 4 (ProxyConfig img): spec.replicas: unknown field (the fields here are environmentVariables, selector, concurrency, image)',
    ]);
  });

  test('one namespace, two signers; and bare names without CERT_SIGNER_DOMAIN', async (t) => {
    const signer = (s: string) => `  environmentVariables:\n    ISTIO_META_CERT_SIGNER: ${s}\n`;
    const yaml = [
      proxyConfig('first', 'foo', signer('example.com/foo')),
      proxyConfig('same', 'foo', signer('example.com/foo')),
      proxyConfig('second', 'foo', signer('example.com/bar')),
      proxyConfig('bare', 'bar', signer('bar')),
    ].join('---\n');
    assert.deepEqual(await problemsOf(t, yaml), [
      '$F: document 3 (ProxyConfig second): spec.environmentVariables.ISTIO_META_CERT_SIGNER: namespace foo already has signer "example.com/foo" from ProxyConfig first ($F: document 1 (ProxyConfig first)); a namespace has one signer: remove one of them',
      `$F: document 4 (ProxyConfig bare): spec.environmentVariables.ISTIO_META_CERT_SIGNER: "bar" is a bare signer name, which needs CERT_SIGNER_DOMAIN (in the IstioOperator's spec.components.pilot.k8s.env) to become a full one; set it, or write the full name, e.g. clusterissuers.cert-manager.io/bar`,
    ]);
  });
});

const peerAuthentication = (spec: string, name = 'pa') => `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: foo
spec:
${spec}`;

describe('PeerAuthentication', () => {
  test('modes, ports, selectors and fields', async (t) => {
    const yaml = [
      peerAuthentication('  mTLS: {}\n  mtls: {mode: strict}\n', 'modes'),
      peerAuthentication('  portLevelMtls:\n    8080: {mode: DISABLE}\n', 'noselector'),
      peerAuthentication(
        '  selector:\n    matchLabels: {app: a}\n  portLevelMtls:\n    http: {mode: STRICT}\n    70000: {mode: STRICT}\n    0: {mode: STRICT}\n    9090: {mode: Off, extra: 1}\n',
        'ports',
      ),
      peerAuthentication('  selector:\n    matchLabels: {version: 1, app: "a*", "*": b}\n', 'labels'),
      peerAuthentication(
        '  selector:\n    matchLabels: {}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n',
        'emptylabels',
      ),
    ].join('---\n');
    assert.deepEqual(await problemsOf(t, yaml), [
      '$F: document 1 (PeerAuthentication modes): spec.mTLS: unknown field; did you mean "mtls"?',
      '$F: document 1 (PeerAuthentication modes): spec.mtls.mode: "strict" is not a mode; use one of UNSET, STRICT, PERMISSIVE, DISABLE (upper-case)',
      '$F: document 2 (PeerAuthentication noselector): spec.portLevelMtls: portLevelMtls requires selector (a port only means something for chosen workloads); add spec.selector.matchLabels or move the ports to a workload policy',
      '$F: document 3 (PeerAuthentication ports): spec.portLevelMtls.0: "0" is not a port number (1-65535)',
      '$F: document 3 (PeerAuthentication ports): spec.portLevelMtls.9090.extra: unknown field (the fields here are mode)',
      '$F: document 3 (PeerAuthentication ports): spec.portLevelMtls.9090.mode: "Off" is not a mode; use one of UNSET, STRICT, PERMISSIVE, DISABLE (upper-case)',
      '$F: document 3 (PeerAuthentication ports): spec.portLevelMtls.70000: "70000" is not a port number (1-65535)',
      '$F: document 3 (PeerAuthentication ports): spec.portLevelMtls.http: "http" is not a port number (1-65535)',
      '$F: document 4 (PeerAuthentication labels): spec.selector.matchLabels.version: must be a string, not a number (quote it)',
      '$F: document 4 (PeerAuthentication labels): spec.selector.matchLabels.app: "a*": a label value must not contain "*"',
      '$F: document 4 (PeerAuthentication labels): spec.selector.matchLabels.*: a label key must be non-empty and without "*"',
      '$F: document 5 (PeerAuthentication emptylabels): spec.portLevelMtls: portLevelMtls requires selector (a port only means something for chosen workloads); add spec.selector.matchLabels or move the ports to a workload policy',
    ]);
  });
});
