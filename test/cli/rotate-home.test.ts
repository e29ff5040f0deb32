// Which home `meshca rotate` works on: --data-dir, or --kubeconfig (KUBECONFIG) with --namespace;
// mixing them is a usage error that says so, before anything is read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runMeshca } from '../support/meshca-process.js';

describe('meshca rotate: one home per call', () => {
  test('--data-dir with --kubeconfig, or --namespace without Kubernetes, is exit 2 naming the mix-up', async () => {
    const both = await runMeshca(['rotate', 'status', '--data-dir', 'ca', '--kubeconfig', 'kube.yaml']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --data-dir or --kubeconfig, not both: the CA lives in one home/);
    const namespace = await runMeshca(['rotate', 'status', '--data-dir', 'ca', '--namespace', 'mesh']);
    assert.equal(namespace.code, 2);
    assert.match(
      namespace.stderr,
      /--namespace applies to the Kubernetes home only; give --kubeconfig FILE too/,
    );
  });

  test('KUBECONFIG chooses the cluster, as for meshca serve; a missing file is named', async () => {
    const r = await runMeshca(['rotate', 'status'], { env: { KUBECONFIG: '/nonexistent/kubeconfig' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /kubeconfig \/nonexistent\/kubeconfig does not exist; give the file kubectl uses/);
  });
});
