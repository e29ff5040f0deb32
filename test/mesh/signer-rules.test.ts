// fullSignerName, resolveSigner (with the tenancy rule), rootsForSigner and rootsForTrustDomain,
// on configurations loaded from real YAML: the Custom CA task's, and variations of it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indentPem } from '../../demo/custom-ca-yaml.js';
import { defaultMeshConfig } from '../../src/mesh/default-mesh-config.js';
import { fullSignerName } from '../../src/mesh/full-signer-name.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { resolveSigner } from '../../src/mesh/resolve-signer.js';
import { rootsForSigner } from '../../src/mesh/roots-for-signer.js';
import { rootsForTrustDomain } from '../../src/mesh/roots-for-trust-domain.js';
import type { MeshConfig } from '../../src/mesh/types.js';
import { makeCa, tempDir, write, writeTaskFiles } from './mesh-fixtures.js';

const CI = 'clusterissuers.cert-manager.io';
const work = tempDir({ after });
let task: MeshConfig;
let roots: { istioca: string; fooca: string; barca: string };

async function load(yaml: string): Promise<MeshConfig> {
  const file = write(join(work, `config-${Math.random().toString(36).slice(2)}.yaml`), yaml);
  return (await loadMeshConfig(file)).config;
}

before(async () => {
  roots = await writeTaskFiles(join(work, 'task'), work);
  task = (await loadMeshConfig(join(work, 'task'))).config;
});

describe('fullSignerName', () => {
  test('prefixes a bare name with CERT_SIGNER_DOMAIN and leaves a full name alone', () => {
    assert.equal(fullSignerName('foo', task), `${CI}/foo`);
    assert.equal(fullSignerName('example.com/foo', task), 'example.com/foo');
    assert.equal(fullSignerName('example.com/foo', defaultMeshConfig()), 'example.com/foo');
  });

  test('a bare name without CERT_SIGNER_DOMAIN is refused', () => {
    assert.throws(() => fullSignerName('foo', defaultMeshConfig()), {
      name: 'MeshcaError',
      code: 'MESH_SIGNER_NAME_UNQUALIFIED',
      kind: 'invalid-input',
      message:
        'signer "foo" is a bare name and the mesh sets no CERT_SIGNER_DOMAIN to complete it; ask for the full signer name (<domain>/<name>), or set CERT_SIGNER_DOMAIN in the IstioOperator',
    });
  });
});

describe('resolveSigner', () => {
  test('the request wins, else the namespace ProxyConfig, else the mesh default', () => {
    const cases: [string, string | undefined, string][] = [
      ['foo', undefined, `${CI}/foo`],
      ['bar', undefined, `${CI}/bar`],
      ['foo', '', `${CI}/foo`],
      ['foo', 'foo', `${CI}/foo`],
      ['foo', `${CI}/foo`, `${CI}/foo`],
      ['default', undefined, `${CI}/istio-system`],
      ['default', 'bar', `${CI}/bar`],
      ['default', 'example.com/other', 'example.com/other'],
      ['istio-system', undefined, `${CI}/istio-system`],
    ];
    for (const [namespace, requested, expected] of cases) {
      assert.equal(
        resolveSigner(task, { namespace, requested }),
        expected,
        `${namespace} asking for ${requested}`,
      );
    }
  });

  test('TENANCY: a namespace with its own signer may not ask for another', () => {
    assert.throws(() => resolveSigner(task, { namespace: 'foo', requested: 'bar' }), {
      name: 'MeshcaError',
      code: 'MESH_SIGNER_NOT_ALLOWED',
      kind: 'permission-denied',
      message: `namespace foo may only use signer ${CI}/foo (its ProxyConfig), but the request asked for signer ${CI}/bar; remove ISTIO_META_CERT_SIGNER from the workload, or change the namespace's ProxyConfig`,
    });
    assert.throws(() => resolveSigner(task, { namespace: 'bar', requested: `${CI}/istio-system` }), {
      code: 'MESH_SIGNER_NOT_ALLOWED',
    });
  });

  test("the root namespace's ProxyConfig is the mesh default, before proxyMetadata, and pins the root namespace", async () => {
    const config = await load(`apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    defaultConfig:
      proxyMetadata:
        ISTIO_META_CERT_SIGNER: from-operator
  components:
    pilot:
      k8s:
        env:
        - name: CERT_SIGNER_DOMAIN
          value: ${CI}
---
apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata:
  name: mesh
  namespace: istio-system
spec:
  environmentVariables:
    ISTIO_META_CERT_SIGNER: mesh-wide
`);
    assert.equal(resolveSigner(config, { namespace: 'anywhere' }), `${CI}/mesh-wide`);
    assert.equal(resolveSigner(config, { namespace: 'anywhere', requested: 'other' }), `${CI}/other`);
    assert.throws(() => resolveSigner(config, { namespace: 'istio-system', requested: 'other' }), {
      code: 'MESH_SIGNER_NOT_ALLOWED',
    });
  });

  test('K8S_SIGNER is the last resort; with nothing configured meshca signs (undefined)', async () => {
    const config = await load(`apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  components:
    pilot:
      k8s:
        env:
        - name: EXTERNAL_CA
          value: ISTIOD_RA_KUBERNETES_API
        - name: K8S_SIGNER
          value: kubernetes.io/legacy-unknown
`);
    assert.equal(resolveSigner(config, { namespace: 'foo' }), 'kubernetes.io/legacy-unknown');
    assert.equal(resolveSigner(defaultMeshConfig(), { namespace: 'foo' }), undefined);
    assert.equal(
      resolveSigner(defaultMeshConfig(), { namespace: 'foo', requested: 'example.com/x' }),
      'example.com/x',
    );
    assert.throws(() => resolveSigner(defaultMeshConfig(), { namespace: 'foo', requested: 'x' }), {
      code: 'MESH_SIGNER_NAME_UNQUALIFIED',
    });
  });
});

describe('roots', () => {
  test("rootsForSigner: each signer gets only its own entries' certificates", () => {
    assert.deepEqual(rootsForSigner(task, `${CI}/foo`), [roots.fooca]);
    assert.deepEqual(rootsForSigner(task, 'bar'), [roots.barca]);
    assert.deepEqual(rootsForSigner(task, `${CI}/istio-system`), [roots.istioca]);
    assert.deepEqual(rootsForSigner(task, `${CI}/unknown`), []);
  });

  test('a certificate listed twice is returned once; an entry may hold several certificates', async () => {
    const extra = (await makeCa(work, 'extra')).cert;
    const config = await load(`apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    caCertificates:
    - pem: |
${indentPem(roots.fooca + extra)}
      certSigners: [${CI}/foo]
      trustDomains: [foo.example, cluster.local]
    - pem: |
${indentPem(roots.fooca)}
      certSigners: [${CI}/foo, ${CI}/bar]
    - pem: |
${indentPem(roots.barca)}
      trustDomains: [bar.example]
`);
    assert.deepEqual(rootsForSigner(config, `${CI}/foo`), [roots.fooca, extra]);
    assert.deepEqual(rootsForSigner(config, `${CI}/bar`), [roots.fooca]);
    assert.deepEqual(rootsForTrustDomain(config, 'foo.example'), [roots.fooca, extra]);
    assert.deepEqual(rootsForTrustDomain(config, 'bar.example'), [roots.barca]);
    assert.deepEqual(rootsForTrustDomain(config, 'other.example'), []);
    assert.deepEqual(rootsForTrustDomain(task, 'cluster.local'), []);
  });
});
