// The settings of serve's two Kubernetes controllers: --csr-signer-names and --workload-secrets,
// from flags or environment variables, every problem reported with what to do.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CliContext } from '../../src/cli/context.js';
import { resolveCsrSignerNames } from '../../src/cli/csr-signer-settings.js';
import { SettingsProblems } from '../../src/cli/settings.js';
import { resolveWorkloadSecrets } from '../../src/cli/workload-secrets-settings.js';

const ctx = (env: NodeJS.ProcessEnv = {}): CliContext => ({ out() {}, err() {}, env, cwd: '/' });

describe('--csr-signer-names', () => {
  test('a comma-separated list, from the flag or MESHCA_CSR_SIGNER_NAMES, duplicates dropped', () => {
    const problems = new SettingsProblems();
    assert.deepEqual(
      resolveCsrSignerNames(
        { 'csr-signer-names': 'example.com/foo, example.com/bar,example.com/foo' },
        ctx(),
        problems,
        true,
      ),
      ['example.com/foo', 'example.com/bar'],
    );
    assert.deepEqual(
      resolveCsrSignerNames({}, ctx({ MESHCA_CSR_SIGNER_NAMES: 'istio.io/mesh' }), problems, true),
      ['istio.io/mesh'],
    );
    assert.equal(resolveCsrSignerNames({}, ctx(), problems, true), undefined);
    assert.deepEqual(problems.problems, []);
  });

  test("refuses malformed names, Kubernetes' own signers, and the data-directory home", () => {
    const problems = new SettingsProblems();
    resolveCsrSignerNames(
      {
        'csr-signer-names': 'foo,Example.com/x,kubernetes.io/kube-apiserver-client,beta.kubernetes.io/legacy',
      },
      ctx(),
      problems,
      true,
    );
    assert.deepEqual(problems.problems, [
      '--csr-signer-names: "foo" is not a signer name; use <domain>/<name> with a domain you own, e.g. example.com/foo',
      '--csr-signer-names: "Example.com/x" is not a signer name; use <domain>/<name> with a domain you own, e.g. example.com/foo',
      `--csr-signer-names: "kubernetes.io/kube-apiserver-client" is one of Kubernetes' own signers (kube-controller-manager signs those); use a domain you own`,
      `--csr-signer-names: "beta.kubernetes.io/legacy" is one of Kubernetes' own signers (kube-controller-manager signs those); use a domain you own`,
    ]);
    const local = new SettingsProblems();
    resolveCsrSignerNames({}, ctx({ MESHCA_CSR_SIGNER_NAMES: 'example.com/foo' }), local, false);
    assert.deepEqual(local.problems, [
      'MESHCA_CSR_SIGNER_NAMES applies to the Kubernetes home only; give --kubeconfig FILE too',
    ]);
  });
});

describe('--workload-secrets', () => {
  test('off by default; on by the flag or MESHCA_WORKLOAD_SECRETS, with the default exclusions and write rate', () => {
    const problems = new SettingsProblems();
    assert.equal(resolveWorkloadSecrets({}, ctx(), problems, true), undefined);
    const defaults = {
      excludeNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
      writesPerSecond: 10,
    };
    assert.deepEqual(resolveWorkloadSecrets({ 'workload-secrets': true }, ctx(), problems, true), defaults);
    assert.deepEqual(
      resolveWorkloadSecrets({}, ctx({ MESHCA_WORKLOAD_SECRETS: 'true' }), problems, true),
      defaults,
    );
    assert.deepEqual(
      resolveWorkloadSecrets(
        {
          'workload-secrets': true,
          'workload-secrets-exclude-namespaces': 'a, b',
          'workload-secrets-write-rate': '2.5',
        },
        ctx(),
        problems,
        true,
      ),
      { excludeNamespaces: ['a', 'b'], writesPerSecond: 2.5 },
    );
    assert.deepEqual(problems.problems, []);
  });

  test('refuses a bad write rate, its options without it, and the data-directory home', () => {
    const problems = new SettingsProblems();
    resolveWorkloadSecrets(
      { 'workload-secrets': true, 'workload-secrets-write-rate': '0' },
      ctx(),
      problems,
      true,
    );
    resolveWorkloadSecrets({ 'workload-secrets-write-rate': '5' }, ctx(), problems, true);
    resolveWorkloadSecrets({ 'workload-secrets': true }, ctx(), problems, false);
    assert.deepEqual(problems.problems, [
      '--workload-secrets-write-rate "0": give a number of writes per second above 0, at most 1000',
      '--workload-secrets-write-rate applies with --workload-secrets only',
      '--workload-secrets applies to the Kubernetes home only; give --kubeconfig FILE too',
    ]);
  });
});
