// peerAuthenticationMode: Istio's precedence (workload > namespace > mesh > PERMISSIVE), UNSET
// inheriting, and port-level overrides, on policies loaded from YAML.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultMeshConfig } from '../../src/mesh/default-mesh-config.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { peerAuthenticationMode } from '../../src/mesh/peer-authentication-mode.js';
import type { MeshConfig } from '../../src/mesh/types.js';
import { tempDir, write } from './mesh-fixtures.js';

const work = tempDir({ after });

const policy = (name: string, namespace: string, spec: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${spec}---
`;

async function load(name: string, yaml: string): Promise<MeshConfig> {
  return (await loadMeshConfig(write(join(work, `${name}.yaml`), yaml))).config;
}

let config: MeshConfig;

before(async () => {
  config = await load(
    'policies',
    [
      policy('default', 'istio-system', '  mtls:\n    mode: STRICT\n'),
      policy(
        'ignored',
        'istio-system',
        '  selector:\n    matchLabels: {app: finance}\n  mtls:\n    mode: DISABLE\n',
      ),
      policy('default', 'foo', '  mtls:\n    mode: PERMISSIVE\n'),
      policy(
        'finance',
        'foo',
        '  selector:\n    matchLabels: {app: finance}\n  mtls:\n    mode: STRICT\n  portLevelMtls:\n    8080:\n      mode: DISABLE\n    9090:\n      mode: UNSET\n',
      ),
      policy(
        'inherit',
        'foo',
        '  selector:\n    matchLabels: {app: inherit}\n  mtls:\n    mode: UNSET\n  portLevelMtls:\n    8080:\n      mode: DISABLE\n',
      ),
      policy('older', 'foo', '  selector:\n    matchLabels: {app: web}\n  mtls:\n    mode: STRICT\n'),
      policy(
        'newer',
        'foo',
        '  selector:\n    matchLabels: {app: web, tier: front}\n  mtls:\n    mode: DISABLE\n',
      ),
      policy('default', 'bar', '  mtls:\n    mode: UNSET\n'),
      policy('x', 'bar', '  selector:\n    matchLabels: {app: x}\n  mtls:\n    mode: PERMISSIVE\n'),
      policy('default', 'off', '  mtls:\n    mode: DISABLE\n'),
    ].join(''),
  );
});

test('precedence: workload > namespace > mesh, UNSET inherits, ports override workload policies only', () => {
  const table: [string, Record<string, string> | undefined, number | undefined, string, string][] = [
    ['foo', { app: 'finance' }, undefined, 'STRICT', 'the workload policy beats the namespace'],
    ['foo', { app: 'finance' }, 8080, 'DISABLE', 'its port 8080 override'],
    ['foo', { app: 'finance' }, 9090, 'STRICT', 'a port set to UNSET keeps the workload mode'],
    ['foo', { app: 'finance' }, 1234, 'STRICT', 'a port without an override'],
    ['foo', { app: 'finance', version: 'v1' }, 8080, 'DISABLE', 'extra labels still match'],
    ['foo', { app: 'other' }, 8080, 'PERMISSIVE', 'no workload policy: the namespace, ports ignored'],
    ['foo', undefined, undefined, 'PERMISSIVE', 'no labels: the namespace'],
    ['foo', { app: 'inherit' }, undefined, 'PERMISSIVE', 'an UNSET workload policy inherits the namespace'],
    ['foo', { app: 'inherit' }, 8080, 'DISABLE', '…and still overrides its port'],
    [
      'foo',
      { app: 'web', tier: 'front' },
      undefined,
      'STRICT',
      'of two matching policies the first loaded wins',
    ],
    ['bar', undefined, undefined, 'STRICT', 'an UNSET namespace policy inherits the mesh'],
    ['bar', { app: 'x' }, undefined, 'PERMISSIVE', 'a workload policy beats the mesh'],
    ['baz', { app: 'finance' }, 8080, 'STRICT', 'no namespace policy: the mesh'],
    [
      'istio-system',
      { app: 'finance' },
      undefined,
      'STRICT',
      'selectors in the root namespace apply to nothing',
    ],
    ['off', undefined, 443, 'DISABLE', 'a namespace may disable mTLS'],
  ];
  for (const [namespace, labels, port, expected, why] of table) {
    assert.equal(peerAuthenticationMode(config, { namespace, labels, port }), expected, why);
  }
});

test('without a mesh-wide policy, or with an UNSET one, the default is PERMISSIVE', async () => {
  assert.equal(peerAuthenticationMode(defaultMeshConfig(), { namespace: 'foo' }), 'PERMISSIVE');
  const unset = await load('unset', policy('default', 'istio-system', '  mtls:\n    mode: UNSET\n'));
  assert.equal(peerAuthenticationMode(unset, { namespace: 'foo', port: 80 }), 'PERMISSIVE');
  const empty = await load('empty', policy('default', 'istio-system', '  {}\n'));
  assert.equal(peerAuthenticationMode(empty, { namespace: 'foo' }), 'PERMISSIVE');
});

test('meshConfig.rootNamespace moves the mesh-wide level', async () => {
  const moved = await load(
    'root',
    `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    rootNamespace: mesh-root
---
${policy('default', 'mesh-root', '  mtls:\n    mode: STRICT\n')}${policy('default', 'istio-system', '  mtls:\n    mode: DISABLE\n')}`,
  );
  assert.equal(peerAuthenticationMode(moved, { namespace: 'foo' }), 'STRICT');
  assert.equal(peerAuthenticationMode(moved, { namespace: 'istio-system' }), 'DISABLE');
});
