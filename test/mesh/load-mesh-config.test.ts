// loadMeshConfig on the YAML of Istio's docs and of cert-manager's and step-issuer's: what it reads,
// what it notes as ignored, and that the result cannot be changed.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { defaultMeshConfig } from '../../src/mesh/default-mesh-config.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { PROXYCONFIG_BAR, PROXYCONFIG_FOO, tempDir, write, writeTaskFiles } from './mesh-fixtures.js';

/** The task's ProxyConfigs name bare signers, which need the IstioOperator's CERT_SIGNER_DOMAIN; alone, full names. */
const qualified = (yaml: string) =>
  yaml.replace(/ISTIO_META_CERT_SIGNER: (\w+)/, 'ISTIO_META_CERT_SIGNER: clusterissuers.cert-manager.io/$1');

describe('the Custom CA Integration task', () => {
  test("reads istio.yaml and the two ProxyConfigs as Istio's docs write them", async (t) => {
    const work = tempDir(t);
    const dir = join(work, 'config');
    const roots = await writeTaskFiles(dir, work);
    const { config, notes, files } = await loadMeshConfig(dir);

    assert.deepEqual(
      files,
      ['istio.yaml', 'proxyconfig-bar.yaml', 'proxyconfig-foo.yaml'].map((f) => join(dir, f)),
    );
    assert.equal(config.trustDomain, 'cluster.local');
    assert.equal(config.rootNamespace, 'istio-system');
    assert.equal(config.raMode, true);
    assert.equal(config.certSignerDomain, 'clusterissuers.cert-manager.io');
    assert.equal(config.pilotCertProvider, 'k8s.io/clusterissuers.cert-manager.io/istio-system');
    assert.equal(config.defaultCertSigner, 'istio-system');
    assert.equal(config.k8sSigner, undefined);
    const source = `${join(dir, 'istio.yaml')}: document 1 (IstioOperator)`;
    assert.deepEqual(
      config.caCertificates.map((e) => ({
        certificates: e.certificates,
        certSigners: e.certSigners,
        source: e.source,
      })),
      [
        {
          certificates: [roots.istioca],
          certSigners: ['clusterissuers.cert-manager.io/istio-system'],
          source,
        },
        { certificates: [roots.fooca], certSigners: ['clusterissuers.cert-manager.io/foo'], source },
        { certificates: [roots.barca], certSigners: ['clusterissuers.cert-manager.io/bar'], source },
      ],
    );
    assert.equal(config.caCertificates[1]!.pem, roots.fooca);
    assert.deepEqual(
      [...config.proxyConfigs],
      [
        [
          'bar',
          {
            certSigner: 'bar',
            source: `${join(dir, 'proxyconfig-bar.yaml')}: document 1 (ProxyConfig barpc)`,
          },
        ],
        [
          'foo',
          {
            certSigner: 'foo',
            source: `${join(dir, 'proxyconfig-foo.yaml')}: document 1 (ProxyConfig foopc)`,
          },
        ],
      ],
    );
    assert.deepEqual(config.peerAuthentications, []);
    assert.deepEqual(config.signers, []);
    assert.deepEqual(notes, [`${source}: ignored by meshca: spec.components.pilot.k8s.overlays`]);
  });

  test('the result is frozen all the way down, maps included', async (t) => {
    const work = tempDir(t);
    await writeTaskFiles(join(work, 'config'), work);
    const result = await loadMeshConfig(join(work, 'config'));
    const { config } = result;
    for (const value of [
      result,
      result.notes,
      config,
      config.caCertificates,
      config.caCertificates[0],
      config.caCertificates[0]!.certSigners,
      config.proxyConfigs.get('foo'),
    ]) {
      assert.ok(Object.isFrozen(value));
    }
    assert.throws(() => {
      (config as { raMode: boolean }).raMode = false;
    }, TypeError);
    assert.throws(() => (config.proxyConfigs as Map<string, unknown>).set('evil', {}), {
      code: 'MESH_CONFIG_FROZEN',
      kind: 'internal',
    });
    assert.throws(() => (config.proxyConfigs as Map<string, unknown>).delete('foo'), {
      code: 'MESH_CONFIG_FROZEN',
    });
    assert.equal(config.proxyConfigs.size, 2);
  });
});

describe('files and documents', () => {
  test('one file: several documents, comments and empty documents', async (t) => {
    const file = write(
      join(tempDir(t), 'mesh.yml'),
      `# the whole mesh in one file\n---\n---\n# nothing here\n---\n${qualified(PROXYCONFIG_FOO)}---\n${qualified(PROXYCONFIG_BAR)}---\n`,
    );
    const { config, notes } = await loadMeshConfig(file);
    assert.deepEqual([...config.proxyConfigs.keys()], ['foo', 'bar']);
    assert.equal(config.trustDomain, 'cluster.local');
    assert.equal(config.raMode, false);
    assert.deepEqual(notes, []);
  });

  test('a directory is read in name order; hidden files and other extensions are skipped', async (t) => {
    const dir = tempDir(t);
    const pa = (name: string, mode: string) =>
      `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: foo}\nspec: {mtls: {mode: ${mode}}}\n`;
    write(join(dir, '2-second.yaml'), pa('second', 'DISABLE'));
    write(join(dir, '10-first.yml'), pa('first', 'STRICT'));
    write(join(dir, '.#10-first.yml'), 'not: [yaml');
    write(join(dir, 'README.md'), '# not read');
    mkdirSync(join(dir, 'sub.yaml'));
    const { config, notes, files } = await loadMeshConfig(dir);
    assert.deepEqual(files, [join(dir, '10-first.yml'), join(dir, '2-second.yaml')]);
    assert.deepEqual(
      config.peerAuthentications.map((p) => [p.name, p.mode]),
      [['first', 'STRICT']],
    );
    assert.deepEqual(notes, [
      `${join(dir, '2-second.yaml')}: document 1 (PeerAuthentication second): ignored: ${join(dir, '10-first.yml')}: document 1 (PeerAuthentication first) is already the namespace-wide (foo) PeerAuthentication, and the first one applies`,
    ]);
  });

  test('an empty directory gives the defaults, with a note', async (t) => {
    const dir = tempDir(t);
    const { config, notes, files } = await loadMeshConfig(dir);
    assert.deepEqual(config, defaultMeshConfig());
    assert.deepEqual(files, []);
    assert.deepEqual(notes, [`${dir}: no *.yaml or *.yml files; using the default mesh configuration`]);
  });

  test('defaultMeshConfig: cluster.local, istio-system, meshca signs, nothing else', () => {
    const config = defaultMeshConfig();
    assert.equal(config.trustDomain, 'cluster.local');
    assert.equal(config.rootNamespace, 'istio-system');
    assert.equal(config.raMode, false);
    assert.equal(config.defaultCertSigner, undefined);
    assert.equal(config.certSignerDomain, undefined);
    assert.equal(config.proxyConfigs.size, 0);
    assert.deepEqual([config.caCertificates, config.peerAuthentications, config.signers], [[], [], []]);
    assert.ok(Object.isFrozen(config));
  });

  test('kind: List is unpacked; unknown kinds and other projects’ kinds are notes', async (t) => {
    const file = write(
      join(tempDir(t), 'pasted.yaml'),
      `apiVersion: v1
kind: List
items:
- ${qualified(PROXYCONFIG_FOO).trimEnd().replaceAll('\n', '\n  ')}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: istio, namespace: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin}
---
apiVersion: example.com/v1
kind: Issuer
metadata: {name: other}
`,
    );
    const { config, notes } = await loadMeshConfig(file);
    assert.equal(config.proxyConfigs.get('foo')?.certSigner, 'clusterissuers.cert-manager.io/foo');
    assert.deepEqual(notes, [
      `${file}: document 1 (ConfigMap istio): kind ConfigMap (v1) is not read by meshca; ignored`,
      `${file}: document 2 (Deployment httpbin): kind Deployment (apps/v1) is not read by meshca; ignored`,
      `${file}: document 3 (Issuer other): apiVersion example.com/v1 is not cert-manager.io: another project's Issuer, not read by meshca; ignored`,
    ]);
  });
});

describe('notes', () => {
  test('PeerAuthentication: selectors in the root namespace; policies are kept in load order', async (t) => {
    const file = write(
      join(tempDir(t), 'pa.yaml'),
      `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: root-selector, namespace: istio-system}
spec:
  selector: {matchLabels: {app: x}}
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: finance, namespace: foo}
spec:
  selector:
    matchLabels:
      app: finance
  mtls:
    mode: UNSET
  portLevelMtls:
    8080:
      mode: DISABLE
    "9090": {}
`,
    );
    const { config, notes } = await loadMeshConfig(file);
    assert.equal(config.peerAuthentications.length, 1);
    const [finance] = config.peerAuthentications;
    assert.deepEqual(
      { ...finance, portLevelMtls: [...finance!.portLevelMtls] },
      {
        name: 'finance',
        namespace: 'foo',
        selector: { app: 'finance' },
        mode: 'UNSET',
        portLevelMtls: [
          [8080, 'DISABLE'],
          [9090, 'UNSET'],
        ],
        source: `${file}: document 2 (PeerAuthentication finance)`,
      },
    );
    assert.deepEqual(notes, [
      `${file}: document 1 (PeerAuthentication root-selector): ignored: a PeerAuthentication with a selector in the root namespace istio-system applies to nothing (as in Istio); move it to the workload's namespace`,
    ]);
  });

  test('RA mode: a signer that no caCertificates entry covers; ignored fields and env', async (t) => {
    const file = write(
      join(tempDir(t), 'istio.yaml'),
      `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: demo
  meshConfig:
    trustDomain: example.org
    accessLogFile: /dev/stdout
    defaultConfig:
      holdApplicationUntilProxyStarts: true
      proxyMetadata:
        ISTIO_META_DNS_CAPTURE: "true"
  components:
    pilot:
      k8s:
        env:
        - name: EXTERNAL_CA
          value: ISTIOD_RA_KUBERNETES_API
        - name: K8S_SIGNER
          value: kubernetes.io/legacy-unknown
        - name: PILOT_ENABLE_CONFIG_DISTRIBUTION_TRACKING
          value: "true"
---
${qualified(PROXYCONFIG_FOO)}`,
    );
    const { config, notes } = await loadMeshConfig(file);
    assert.equal(config.trustDomain, 'example.org');
    assert.equal(config.k8sSigner, 'kubernetes.io/legacy-unknown');
    const io = `${file}: document 1 (IstioOperator)`;
    assert.deepEqual(notes, [
      `${io}: ignored by meshca: spec.profile, spec.meshConfig.accessLogFile, spec.meshConfig.defaultConfig.holdApplicationUntilProxyStarts, spec.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE, spec.components.pilot.k8s.env[2] (PILOT_ENABLE_CONFIG_DISTRIBUTION_TRACKING)`,
      `${io}: spec.components.pilot.k8s.env[1].value: no caCertificates entry lists signer kubernetes.io/legacy-unknown in certSigners, so its workloads get no root from meshca`,
      `${file}: document 2 (ProxyConfig foopc): spec.environmentVariables.ISTIO_META_CERT_SIGNER: no caCertificates entry lists signer clusterissuers.cert-manager.io/foo in certSigners, so its workloads get no root from meshca`,
    ]);
  });
});
