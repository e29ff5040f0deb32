// What a workload and an operator see when a Kubernetes CSR does not end in a good certificate:
// no controller for the signer (timeout), a signer that fails the CSR, a chain that does not verify
// against the signer's root in caCertificates. Each is a clear error, a Warning Event on the CSR
// (kubectl describe csr), and the CSR deleted. Real API server, real cert-manager; where a test
// needs a signer to misbehave, the test itself is that signer, writing the CSR's status as any
// controller may.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isMeshcaError, type MeshcaError } from '../../../src/errors.js';
import { WORKLOAD_CSR_USAGES } from '../../../src/issuance/signers/kubernetes-csr/csr-api.js';
import { csrName, replicaTag } from '../../../src/issuance/signers/kubernetes-csr/csr-name.js';
import { createKubernetesCsrSigner } from '../../../src/issuance/signers/kubernetes-csr-signer.js';
import type { Signer } from '../../../src/issuance/signers/signer.js';
import { loadKubeClient } from '../../../src/kubernetes/kube-client.js';
import { CSR_REPLICA_LABEL, kubernetesCsrApi } from '../../../src/kubernetes/kubernetes-csr-api.js';
import { silentLogger } from '../../../src/log.js';
import { buildWorkloadCsr } from '../../../src/pki/build-workload-csr.js';
import { parseCsr } from '../../../src/pki/parse-csr.js';
import { type CertManagerCluster, startCertManagerCluster } from '../../support/cert-manager.js';
import { opensslCertificate } from '../../support/step-ca.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const SPIFFE_ID = 'spiffe://cluster.local/ns/foo/sa/sleep';
const TAG = replicaTag('errors-test');

function request() {
  const csrPem = buildWorkloadCsr({
    key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    uri: SPIFFE_ID,
  });
  return { csrPem, csr: parseCsr(csrPem), spiffeId: SPIFFE_ID, ttlSeconds: 3600, requestId: 'errors' };
}

describe('Kubernetes CSR signer: what goes wrong', () => {
  let env: CertManagerCluster;
  let api: Awaited<ReturnType<typeof kubernetesCsrApi>>;
  before(async () => {
    env = await startCertManagerCluster(['foo', 'bar']);
    const client = await loadKubeClient({ kind: 'file', path: env.cluster.kubeconfigPath });
    api = await kubernetesCsrApi({ client, replicaTag: TAG, log: silentLogger });
  });
  after(async () => {
    api?.close();
    await env?.stop();
  });

  const signer = (name: string, root: string, timeoutMs?: number): Signer =>
    createKubernetesCsrSigner({ name, api, replicaTag: TAG, rootsPem: [root], timeoutMs, log: silentLogger });

  /** The refusal, the CSR it names, that CSR's Event reasons once recorded, and that it is gone. */
  async function refusal(signing: Promise<unknown>, code: string, eventReason: string): Promise<MeshcaError> {
    const err = await signing.then(
      () => assert.fail(`expected ${code}`),
      (e: unknown) => e,
    );
    assert.ok(isMeshcaError(err), String(err));
    assert.equal(err.code, code, err.message);
    const name = err.message.match(/meshca-[0-9a-f]{10}-[0-9a-f]{16}/)?.[0];
    assert.ok(name, `the message names the CSR: ${err.message}`);
    const reasons = await env.cluster.kubectl([
      'get',
      'events',
      '-n',
      'default',
      '--field-selector',
      `involvedObject.name=${name},involvedObject.kind=CertificateSigningRequest`,
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    assert.ok(reasons.split(' ').includes(eventReason), `Events on ${name}: ${reasons}`);
    const left = await env.cluster.kubectlResult(['get', 'csr', name]);
    assert.notEqual(left.code, 0, `CSR ${name} is deleted`);
    return err;
  }

  /** Acts as the CSR's signer: waits for meshca's approved CSR and adds `condition` to its status. */
  async function actAsSigner(condition: Record<string, unknown>): Promise<void> {
    await writeStatus([{ op: 'add', path: '/status/conditions/-', value: condition }]);
  }

  /** Waits for meshca's approved CSR and applies a JSON patch to its status, as its signer may. */
  async function writeStatus(patch: object[]): Promise<void> {
    const name = await waitFor('an approved CSR from meshca', async () => {
      const out = await env.cluster.kubectl([
        'get',
        'csr',
        '-l',
        `${CSR_REPLICA_LABEL}=${TAG}`,
        '-o',
        'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[*].type}{"\\n"}{end}',
      ]);
      return out
        .split('\n')
        .find((l) => l.includes('Approved'))
        ?.split(' ')[0];
    });
    await env.cluster.kubectl([
      'patch',
      'csr',
      name,
      '--subresource=status',
      '--type=json',
      '-p',
      JSON.stringify(patch),
    ]);
  }

  it('no controller serves the signer: RA_KUBE_CSR_TIMEOUT names the signer and what to run', async () => {
    const err = await refusal(
      signer('example.com/nobody', env.roots.get('foo')!, 3000).sign(request()),
      'RA_KUBE_CSR_TIMEOUT',
      'MeshcaTimedOut',
    );
    assert.equal(err.kind, 'unavailable');
    assert.match(
      err.message,
      /for signer example\.com\/nobody got no certificate within 3 s; check that a controller serves signerName example\.com\/nobody/,
    );
  });

  it("the signer fails the CSR: RA_KUBE_CSR_FAILED with the signer's reason and message", async () => {
    const signing = signer('example.com/flaky', env.roots.get('foo')!).sign(request());
    await actAsSigner({
      type: 'Failed',
      status: 'True',
      reason: 'PolicyViolation',
      message: 'namespace foo may not use this signer',
      lastUpdateTime: new Date().toISOString(),
    });
    const err = await refusal(signing, 'RA_KUBE_CSR_FAILED', 'MeshcaSawFailed');
    assert.equal(err.kind, 'unavailable');
    assert.match(
      err.message,
      /\(PolicyViolation\): namespace foo may not use this signer; see the signer's log$/,
    );
  });

  it("cert-manager signs with foo, but caCertificates holds bar's root: RA_KUBE_CSR_CHAIN_UNTRUSTED", async () => {
    const err = await refusal(
      signer('clusterissuers.cert-manager.io/foo', env.roots.get('bar')!).sign(request()),
      'RA_KUBE_CSR_CHAIN_UNTRUSTED',
      'MeshcaChainUntrusted',
    );
    assert.equal(err.kind, 'ca-unusable');
    assert.match(
      err.message,
      /does not verify against its root in meshConfig\.caCertificates: .*make caCertificates hold the signer's current root$/,
    );
  });

  it("a CSR an approval policy denied first is not approved over it, and its outcome is 'denied' with the policy's reason", async () => {
    const name = csrName(TAG);
    await api.create({
      name,
      signerName: 'example.com/policy',
      requestPem: request().csrPem,
      expirationSeconds: 3600,
      usages: WORKLOAD_CSR_USAGES,
    });
    try {
      await env.cluster.kubectl(['certificate', 'deny', name]);
      await api.approve(name, { reason: 'MeshcaApproved', message: 'too late' });
      const outcome = await api.outcome(name, AbortSignal.timeout(30_000));
      assert.equal(outcome.kind, 'denied');
      assert.equal(outcome.kind === 'denied' && outcome.reason, 'KubectlDeny');
      const types = await env.cluster.kubectl([
        'get',
        'csr',
        name,
        '-o',
        'jsonpath={.status.conditions[*].type}',
      ]);
      assert.equal(types, 'Denied');
    } finally {
      await api.delete(name);
    }
  });

  it("a certificate from the right CA but over another key than the CSR's: RA_KUBE_CSR_BAD_CERTIFICATE", async () => {
    // The test is a rogue signer holding foo's CA key (cert-manager keeps it in a Secret).
    const tmp = makeTempDir('meshca-rogue-signer-');
    try {
      const secret = (key: string) =>
        env.cluster
          .kubectl([
            'get',
            'secret',
            '-n',
            'cert-manager',
            'foo-ca-selfsigned',
            '-o',
            `jsonpath={.data.${key}}`,
          ])
          .then((b64) => Buffer.from(b64, 'base64').toString('utf8'));
      const fooCa = {
        certPem: await secret('tls\\.crt'),
        keyPem: await secret('tls\\.key'),
        certFile: tmp.file('foo-ca.crt'),
        keyFile: tmp.file('foo-ca.key'),
      };
      tmp.write('foo-ca.crt', fooCa.certPem);
      tmp.write('foo-ca.key', fooCa.keyPem);
      const other = opensslCertificate({
        dir: tmp.path,
        name: 'other-key',
        subject: '/',
        extensions: `subjectAltName=critical,URI:${SPIFFE_ID}\nbasicConstraints=critical,CA:false`,
        issuer: fooCa,
        days: 1,
      });
      const signing = signer('example.com/rogue', env.roots.get('foo')!).sign(request());
      await writeStatus([
        { op: 'add', path: '/status/certificate', value: Buffer.from(other.certPem).toString('base64') },
      ]);
      const err = await refusal(signing, 'RA_KUBE_CSR_BAD_CERTIFICATE', 'MeshcaWrongKey');
      assert.equal(err.kind, 'ca-unusable');
      assert.match(
        err.message,
        /issued a certificate for meshca-[0-9a-f]{10}-[0-9a-f]{16} over another key than the CSR's$/,
      );
    } finally {
      tmp.remove();
    }
  });

  it('a signed CSR is deleted once its certificate is read', async () => {
    const signed = await signer('clusterissuers.cert-manager.io/bar', env.roots.get('bar')!).sign(request());
    assert.ok(signed.chain.length >= 1);
    await waitFor(
      'no CSR of this replica left',
      async () =>
        (
          await env.cluster.kubectl(['get', 'csr', '-l', `${CSR_REPLICA_LABEL}=${TAG}`, '-o', 'name'])
        ).trim() === '',
    );
  });
});

describe('CSR names', () => {
  it('are meshca-<replica>-<64 random bits>: distinct per replica and per request', () => {
    const a = replicaTag('meshca-7d9f-abcde');
    const b = replicaTag('meshca-7d9f-fghij');
    assert.notEqual(a, b);
    assert.equal(replicaTag('meshca-7d9f-abcde'), a, 'stable for one replica');
    const names = new Set(Array.from({ length: 1000 }, () => csrName(a)));
    assert.equal(names.size, 1000);
    for (const name of names) assert.match(name, /^meshca-[0-9a-f]{10}-[0-9a-f]{16}$/);
  });
});
