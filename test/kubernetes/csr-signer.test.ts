// meshca as a Kubernetes CSR signer (`serve --csr-signer-names`) against a real API server: the
// signer conformance suite through CertificateSigningRequests, approval enforced (an unapproved or
// Denied request stays unsigned), the policy's refusals as Failed conditions with reasons and
// Events, only the leader signing, and the chart's RBAC for it.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { V1CertificateSigningRequest } from '@kubernetes/client-node';
import { type KubeClient, loadKubeClient } from '../../src/kubernetes/kube-client.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import { runSignerConformance } from '../issuance/signers/signer.conformance.js';
import { csrApiSigner, WORKLOAD_USAGES } from '../support/csr-api-signer.js';
import { type KubeCluster, startKubeCluster } from '../support/kube-cluster.js';
import { installMeshcaChart } from '../support/meshca-chart.js';
import { CA_NAMESPACE, rootConfigMap, startReplica } from '../support/meshca-in-kubernetes.js';
import type { ServeProcess } from '../support/meshca-process.js';
import { opensslCsr } from '../support/openssl.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

const DEADLINE_MS = 60_000;
const SIGNER = 'example.com/foo';
const CONFORMANCE_SIGNER = 'example.com/conformance';
const MAX_TTL_SECONDS = 48 * 3600;

interface Setup {
  cluster: KubeCluster;
  client: KubeClient;
  replicas: ServeProcess[];
  roots: string;
}

let setup: Promise<Setup> | undefined;
/** One cluster and two replicas for the whole file, started on first use. */
function shared(): Promise<Setup> {
  setup ??= (async () => {
    const cluster = await startKubeCluster();
    const kubeconfig = await installMeshcaChart(cluster, [
      `csrSigner.signerNames={${SIGNER},${CONFORMANCE_SIGNER}}`,
    ]);
    const args = ['--csr-signer-names', `${SIGNER},${CONFORMANCE_SIGNER}`];
    // A lease long enough that the first leader keeps it while the tests look at who signed.
    const env = { MAX_WORKLOAD_CERT_TTL: `${MAX_TTL_SECONDS}s`, MESHCA_LEADER_LEASE_DURATION: '15s' };
    const replicas: ServeProcess[] = [];
    for (const name of ['meshca-a', 'meshca-b'])
      replicas.push(await startReplica(kubeconfig, name, { args, env }));
    await waitFor(
      'the leader watching CertificateSigningRequests',
      () => replicas.some((r) => r.logs.filter((l) => l.event === 'csr-signer-watching').length === 2),
      DEADLINE_MS,
    );
    const roots = await waitFor(
      'the roots published',
      () => rootConfigMap(cluster, CA_NAMESPACE),
      DEADLINE_MS,
    );
    const client = await loadKubeClient({ kind: 'file', path: cluster.kubeconfigPath });
    return { cluster, client, replicas, roots };
  })();
  return setup;
}

after(async () => {
  const s = await setup?.catch(() => undefined);
  for (const r of s?.replicas ?? []) await r.stop('SIGKILL');
  await s?.cluster.stop();
});

runSignerConformance('Kubernetes CSR API, meshca serve --csr-signer-names', async () => {
  const { client, roots } = await shared();
  return {
    signer: csrApiSigner({ client, signerName: CONFORMANCE_SIGNER, rootsPem: [roots] }),
    rootsPem: [roots],
    ttlLimit: { kind: 'capped-duration', maxSeconds: MAX_TTL_SECONDS },
    refusesOtherCsrIdentity: true,
  };
});

describe('meshca as a Kubernetes CSR signer', () => {
  let s: Setup;
  before(async () => {
    s = await shared();
  });

  const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const id = (sa: string) => `spiffe://cluster.local/ns/foo/sa/${sa}`;

  async function create(
    name: string,
    csrPem: string,
    more: { usages?: string[]; signerName?: string; expirationSeconds?: number } = {},
  ): Promise<V1CertificateSigningRequest> {
    return s.client.certificates.createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          request: Buffer.from(csrPem).toString('base64'),
          signerName: more.signerName ?? SIGNER,
          usages: more.usages ?? WORKLOAD_USAGES,
          expirationSeconds: more.expirationSeconds,
        },
      },
    });
  }

  async function decide(csr: V1CertificateSigningRequest, type: 'Approved' | 'Denied') {
    await s.client.certificates.replaceCertificateSigningRequestApproval({
      name: csr.metadata!.name!,
      body: { ...csr, status: { conditions: [{ type, status: 'True', reason: 'Test', message: type }] } },
    });
  }

  const read = (name: string) => s.client.certificates.readCertificateSigningRequest({ name });

  const csrFor = (sa: string, key: KeyObject = ecKey()) => buildWorkloadCsr({ key, uri: id(sa) });

  test('signs only Approved requests: an unapproved one, a Denied one and another signer’s stay untouched; only the leader signs', async () => {
    await create('unapproved', csrFor('unapproved'));
    await decide(await create('denied', csrFor('denied')), 'Denied');
    await decide(
      await create('other-signer', csrFor('other'), { signerName: 'example.com/other' }),
      'Approved',
    );
    // Created after the three on the same watch: once it is signed, the signer has seen them all.
    await decide(await create('approved', csrFor('approved'), { expirationSeconds: 3600 }), 'Approved');
    const signed = await waitFor(
      'the approved request signed',
      async () => (await read('approved')).status?.certificate,
      DEADLINE_MS,
    );
    const chain = parseCertificates(Buffer.from(signed, 'base64').toString('utf8'));
    assert.deepEqual(chain[0]!.uris, [id('approved')]);
    const [root] = parseCertificates(s.roots);
    assert.ok(chain.at(-1)!.x509.verify(root!.publicKey), 'the chain ends under the published root');
    const life = chain[0]!.notAfter.getTime() - Date.now();
    assert.ok(life > 3500_000 && life <= 3600_000, `expirationSeconds 3600 honoured (${life} ms left)`);
    for (const name of ['unapproved', 'denied', 'other-signer']) {
      const csr = await read(name);
      assert.equal(csr.status?.certificate, undefined, `${name} has no certificate`);
      assert.ok(!csr.status?.conditions?.some((c) => c.type === 'Failed'), `${name} is not marked Failed`);
    }
    const signers = s.replicas.filter((r) => r.logs.some((l) => l.event === 'csr-signed'));
    assert.equal(signers.length, 1, 'exactly one replica (the leader) signed');
  });

  test('refuses what breaks the policy with a Failed condition, a reason and an Event', async () => {
    const tmp = makeTempDir('meshca-csr-signer-');
    try {
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
      const cases: { name: string; csrPem: string; usages?: string[]; reason: string; message: RegExp }[] = [
        {
          name: 'other-trust-domain',
          csrPem: buildWorkloadCsr({ key: ecKey(), uri: 'spiffe://evil.example/ns/foo/sa/x' }),
          reason: 'InvalidIdentity',
          message: /is outside the mesh's trust domain cluster\.local/,
        },
        {
          name: 'dns-san',
          csrPem: await opensslCsr(tmp, ecKey(), [`subjectAltName=URI:${id('dns')},DNS:www.example.com`]),
          reason: 'InvalidIdentity',
          message: /DNS, IP or email SANs/,
        },
        {
          name: 'not-a-workload-id',
          csrPem: buildWorkloadCsr({ key: ecKey(), uri: 'spiffe://cluster.local/something' }),
          reason: 'InvalidIdentity',
          message: /\/ns\/<namespace>\/sa\/<service-account>/,
        },
        {
          name: 'weak-key',
          csrPem: csrFor('weak', weak),
          reason: 'UnsupportedKey',
          message: /RSA 1024/,
        },
        {
          name: 'code-signing',
          csrPem: csrFor('code'),
          usages: ['digital signature', 'code signing'],
          reason: 'UnsupportedUsage',
          message: /usages "code signing" are not those of a workload certificate/,
        },
      ];
      for (const c of cases) await decide(await create(c.name, c.csrPem, { usages: c.usages }), 'Approved');
      for (const c of cases) {
        const failed = await waitFor(
          `a Failed condition on ${c.name}`,
          async () => (await read(c.name)).status?.conditions?.find((x) => x.type === 'Failed'),
          DEADLINE_MS,
        );
        assert.equal(failed.reason, c.reason, c.name);
        assert.match(failed.message ?? '', c.message, c.name);
        assert.match(
          failed.message ?? '',
          new RegExp(`^meshca refuses CertificateSigningRequest ${c.name}: `),
        );
        assert.equal((await read(c.name)).status?.certificate, undefined);
        const reasons = await waitFor(
          `an Event on ${c.name}`,
          async () =>
            (
              await s.cluster.kubectl([
                'get',
                'events',
                '-n',
                'default',
                '--field-selector',
                `involvedObject.name=${c.name}`,
                '-o',
                'jsonpath={.items[*].reason}',
              ])
            ).trim() || undefined,
          DEADLINE_MS,
        );
        assert.equal(reasons, `CertificateSigning${c.reason}`);
      }
    } finally {
      tmp.remove();
    }
  });

  test('when the leader stops, the other replica takes over the signing', async () => {
    const leader = s.replicas.find((r) => r.logs.some((l) => l.event === 'csr-signed'))!;
    const other = s.replicas.find((r) => r !== leader)!;
    assert.equal(await leader.stop('SIGTERM'), 0, leader.stderr());
    await decide(await create('after-failover', csrFor('after-failover')), 'Approved');
    await waitFor(
      'the request signed after the failover',
      async () => (await read('after-failover')).status?.certificate,
      DEADLINE_MS,
    );
    assert.ok(
      other.logs.some((l) => l.event === 'csr-signed' && l.name === 'after-failover'),
      'signed by the replica that took over',
    );
  });

  test('the chart grants exactly the signing of the configured names, and the status of CSRs', async () => {
    const user = `system:serviceaccount:${CA_NAMESPACE}:meshca`;
    const can = async (args: string[]) =>
      (await s.cluster.kubectlResult(['auth', 'can-i', ...args, `--as=${user}`])).code === 0;
    // A signer name holds a slash, which `kubectl auth can-i` cannot name: ask the API server directly.
    const canSign = async (signerName: string) => {
      const review = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${CA_NAMESPACE}`],
          resourceAttributes: {
            group: 'certificates.k8s.io',
            resource: 'signers',
            verb: 'sign',
            name: signerName,
          },
        },
      };
      const answer = await s.cluster.kubectl(['create', '-f', '-', '-o', 'jsonpath={.status.allowed}'], {
        input: JSON.stringify(review),
      });
      return answer.trim() === 'true';
    };
    for (const name of [SIGNER, CONFORMANCE_SIGNER])
      assert.ok(await canSign(name), `meshca may sign ${name}`);
    for (const name of ['example.com/other', 'kubernetes.io/kube-apiserver-client', 'example.com/*'])
      assert.ok(!(await canSign(name)), `meshca may not sign ${name}`);
    for (const a of [
      ['watch', 'certificatesigningrequests.certificates.k8s.io'],
      ['update', 'certificatesigningrequests.certificates.k8s.io', '--subresource=status'],
      ['create', 'events', '-n', 'default'],
    ])
      assert.ok(await can(a), `meshca may ${a.join(' ')}`);
    for (const d of [
      ['update', 'certificatesigningrequests.certificates.k8s.io', '--subresource=approval'],
      ['update', 'certificatesigningrequests.certificates.k8s.io'],
      ['create', 'certificatesigningrequests.certificates.k8s.io'],
      ['delete', 'certificatesigningrequests.certificates.k8s.io'],
    ])
      assert.ok(!(await can(d)), `meshca may not ${d.join(' ')}`);
  });
});
