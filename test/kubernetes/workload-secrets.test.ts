// Citadel's istio.<serviceaccount> Secrets (`serve --workload-secrets`) against a real API server,
// with the older plug-in task's own steps: Istio's sample bundle plugged in as the cacerts Secret,
// `kubectl delete secret istio.default`, the new Secret read back and checked with openssl (root
// and CA identical to the plugged ones, the workload certificate verifies). Also: renewal at half
// life, every Secret re-issued after a CA change, excluded namespaces, a Secret someone else made
// left alone with an Event, and only the leader writing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodePem, encodePem } from '../../src/pki/pem.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { type KubeCluster, startKubeCluster } from '../support/kube-cluster.js';
import { installMeshcaChart } from '../support/meshca-chart.js';
import {
  CA_NAMESPACE,
  cacertsFiles,
  ensureServiceAccount,
  replaceCacerts,
  startReplica,
} from '../support/meshca-in-kubernetes.js';
import { runMeshcaOk, type ServeProcess } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

const DEADLINE_MS = 60_000;
/** Short, so renewal at half life happens within the test. */
const TTL_SECONDS = 20;

interface WorkloadSecret {
  uid: string;
  type: string;
  labels: Record<string, string>;
  files: Record<string, string>;
}

describe("Citadel's istio.<serviceaccount> Secrets", { timeout: 180_000 }, () => {
  let cluster: KubeCluster;
  let tmp: TempDir;
  const replicas: ServeProcess[] = [];

  before(async () => {
    tmp = makeTempDir('meshca-workload-secrets-');
    cluster = await startKubeCluster();
    const kubeconfig = await installMeshcaChart(cluster, ['workloadSecrets.enabled=true']);
    // The seed task's command, literally, with Istio's sample bundle.
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'cacerts',
      '-n',
      CA_NAMESPACE,
      ...['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'].map(
        (f) => `--from-file=${join(SAMPLES_DIR, f)}`,
      ),
    ]);
    await ensureServiceAccount(cluster, 'default', 'default');
    await ensureServiceAccount(cluster, 'foo', 'sleep');
    await cluster.kubectl(['create', 'namespace', 'skipme']);
    const args = ['--workload-secrets', '--workload-secrets-exclude-namespaces', 'skipme,kube-system'];
    // A lease long enough that the first leader keeps it while the test looks at who wrote.
    const env = { DEFAULT_WORKLOAD_CERT_TTL: `${TTL_SECONDS}s`, MESHCA_LEADER_LEASE_DURATION: '15s' };
    for (const name of ['meshca-a', 'meshca-b'])
      replicas.push(await startReplica(kubeconfig, name, { args, env }));
  });
  after(async () => {
    for (const r of replicas) await r.stop('SIGKILL');
    await cluster?.stop();
    tmp?.remove();
  });

  /** The Secret as the API server holds it, its files decoded; undefined while there is none. */
  async function secret(namespace: string, name: string): Promise<WorkloadSecret | undefined> {
    const r = await cluster.kubectlResult(['get', 'secret', name, '-n', namespace, '-o', 'json']);
    if (r.code !== 0) return undefined;
    const o = JSON.parse(r.stdout) as {
      metadata: { uid: string; labels?: Record<string, string> };
      type: string;
      data?: Record<string, string>;
    };
    const files = Object.fromEntries(
      Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
    return { uid: o.metadata.uid, type: o.type, labels: o.metadata.labels ?? {}, files };
  }

  const pems = (text: string) => decodePem(text).map((b) => encodePem(b.type, b.der));
  const certText = (file: string) => opensslOk(['x509', '-in', file, '-text', '-noout']);

  /** openssl verify of the Secret's workload certificate under `root`, with the Secret's CA. */
  async function verifies(s: WorkloadSecret, root: string, name: string): Promise<void> {
    const [workload, ...cas] = pems(s.files['cert-chain.pem']!);
    const caFile = tmp.write(`${name}-ca.pem`, [...cas, root].join(''));
    const leaf = tmp.write(`${name}-workload.pem`, workload!);
    assert.match(await opensslOk(['verify', '-CAfile', caFile, leaf]), /workload\.pem: OK/);
  }

  test('the seed: kubectl delete secret istio.default; the new one holds the plugged root and CA, and openssl verifies it', async () => {
    const first = await waitFor('istio.default', () => secret('default', 'istio.default'), DEADLINE_MS);
    await cluster.kubectl(['delete', 'secret', 'istio.default']);
    const s = await waitFor(
      'istio.default made again',
      async () => {
        const again = await secret('default', 'istio.default');
        return again && again.uid !== first.uid ? again : undefined;
      },
      DEADLINE_MS,
    );
    assert.equal(s.type, 'istio.io/key-and-cert');
    assert.equal(s.labels['app.kubernetes.io/managed-by'], 'meshca');
    assert.deepEqual(Object.keys(s.files).sort(), ['cert-chain.pem', 'key.pem', 'root-cert.pem']);
    // The seed's checks: the root and the CA in the Secret are the plugged ones, byte for byte in text.
    const podRoot = tmp.write('pod-root-cert.pem', s.files['root-cert.pem']!);
    assert.equal(await certText(podRoot), await certText(join(SAMPLES_DIR, 'root-cert.pem')));
    const [workload, ca] = pems(s.files['cert-chain.pem']!);
    const podCa = tmp.write('pod-cert-chain-ca.pem', ca!);
    assert.equal(await certText(podCa), await certText(join(SAMPLES_DIR, 'ca-cert.pem')));
    const both = tmp.write(
      'ca-and-root.pem',
      readFileSync(join(SAMPLES_DIR, 'ca-cert.pem'), 'utf8') +
        readFileSync(join(SAMPLES_DIR, 'root-cert.pem'), 'utf8'),
    );
    const workloadFile = tmp.write('pod-cert-chain-workload.pem', workload!);
    assert.match(
      await opensslOk(['verify', '-CAfile', both, workloadFile]),
      /pod-cert-chain-workload\.pem: OK/,
    );
    assert.match(
      await opensslOk(['x509', '-in', workloadFile, '-noout', '-ext', 'subjectAltName']),
      /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/default/,
    );
    // key.pem is the key of the workload certificate.
    const keyFile = tmp.write('key.pem', s.files['key.pem']!);
    assert.equal(
      await opensslOk(['pkey', '-in', keyFile, '-pubout']),
      await opensslOk(['x509', '-in', workloadFile, '-noout', '-pubkey']),
    );
  });

  test('an excluded namespace gets none, a Secret of that name someone else made is left alone with an Event, only the leader writes', async () => {
    await ensureServiceAccount(cluster, 'skipme', 'default');
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'istio.someone',
      '-n',
      'foo',
      '--from-literal=a=b',
    ]);
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'istio.typed',
      '-n',
      'foo',
      '--type=istio.io/key-and-cert',
      '--from-literal=key.pem=mine',
    ]);
    await ensureServiceAccount(cluster, 'foo', 'someone');
    await ensureServiceAccount(cluster, 'foo', 'typed');
    // Made after the others: once its Secret is there, the leader has been through them all.
    await ensureServiceAccount(cluster, 'foo', 'late');
    await waitFor('istio.late', () => secret('foo', 'istio.late'), DEADLINE_MS);
    assert.equal(await secret('skipme', 'istio.default'), undefined, 'the excluded namespace has none');
    const [leader] = replicas.filter((r) => r.logs.some((l) => l.event === 'workload-secret-written'));
    assert.equal(
      replicas.filter((r) => r.logs.some((l) => l.event === 'workload-secret-written')).length,
      1,
      'exactly one replica (the leader) wrote',
    );
    for (const name of ['istio.someone', 'istio.typed']) {
      const line = await leader!.waitForLog(
        (l) => l.event === 'workload-secret-not-ours' && l.name === name,
        DEADLINE_MS,
      );
      assert.equal(line.code, 'KUBE_WORKLOAD_SECRET_NOT_OURS');
      assert.match(
        String(line.msg),
        new RegExp(`Secret foo/${name.replace('.', '\\.')} exists and was not made by meshca`),
      );
      await waitFor(
        `a WorkloadSecretNotOurs Event on ${name}`,
        async () =>
          (
            await cluster.kubectl([
              'get',
              'events',
              '-n',
              'foo',
              '--field-selector',
              `involvedObject.name=${name}`,
              '-o',
              'jsonpath={.items[*].reason}',
            ])
          ).trim() === 'WorkloadSecretNotOurs',
        DEADLINE_MS,
      );
    }
    assert.deepEqual((await secret('foo', 'istio.someone'))?.files, { a: 'b' }, 'left alone');
    assert.deepEqual((await secret('foo', 'istio.typed'))?.files, { 'key.pem': 'mine' }, 'left alone');
  });

  test('renewed at half its life without anything else changing', async () => {
    const before = await waitFor('istio.sleep', () => secret('foo', 'istio.sleep'), DEADLINE_MS);
    const renewed = await waitFor(
      'istio.sleep renewed',
      async () => {
        const now = await secret('foo', 'istio.sleep');
        return now && now.files['cert-chain.pem'] !== before.files['cert-chain.pem'] ? now : undefined;
      },
      DEADLINE_MS,
    );
    assert.equal(renewed.uid, before.uid, 'the same Secret, updated');
    assert.notEqual(renewed.files['key.pem'], before.files['key.pem'], 'with a new key');
    await verifies(renewed, readFileSync(join(SAMPLES_DIR, 'root-cert.pem'), 'utf8'), 'renewed');
  });

  test('the chart grants Secrets and ServiceAccounts as the controller uses them, and no deleting', async () => {
    const as = `--as=system:serviceaccount:${CA_NAMESPACE}:meshca`;
    const can = async (args: string[]) =>
      (await cluster.kubectlResult(['auth', 'can-i', ...args, as])).code === 0;
    for (const a of [
      ['list', 'secrets', '-A'],
      ['watch', 'secrets', '-A'],
      ['get', 'secrets/istio.sleep', '-n', 'foo'],
      ['create', 'secrets', '-n', 'foo'],
      ['update', 'secrets/istio.sleep', '-n', 'foo'],
      ['list', 'serviceaccounts', '-A'],
      ['watch', 'serviceaccounts', '-A'],
      ['create', 'events', '-n', 'foo'],
    ])
      assert.ok(await can(a), `meshca may ${a.join(' ')}`);
    for (const d of [
      ['delete', 'secrets/istio.sleep', '-n', 'foo'],
      ['patch', 'secrets/istio.sleep', '-n', 'foo'],
      ['create', 'serviceaccounts', '-n', 'foo'],
      ['create', 'serviceaccounts/token', '-n', 'foo'],
    ])
      assert.ok(!(await can(d)), `meshca may not ${d.join(' ')}`);
  });

  test('a CA change (a new cacerts Secret) re-issues every Secret under the new root', async () => {
    const certs = tmp.file('certs');
    await runMeshcaOk(['certs', 'root-ca', '--dir', certs]);
    await runMeshcaOk(['certs', 'cluster1-cacerts', '--dir', certs]);
    const files = cacertsFiles(join(certs, 'cluster1'));
    await replaceCacerts(cluster, files);
    const root = readFileSync(files.root, 'utf8');
    for (const [namespace, name] of [
      ['default', 'istio.default'],
      ['foo', 'istio.sleep'],
      ['foo', 'istio.late'],
    ] as const) {
      const s = await waitFor(
        `${namespace}/${name} under the new root`,
        async () => {
          const now = await secret(namespace, name);
          return now?.files['root-cert.pem'] === root ? now : undefined;
        },
        DEADLINE_MS,
      );
      await verifies(s, root, name);
      assert.equal(pems(s.files['cert-chain.pem']!)[1], readFileSync(files.cert, 'utf8'), 'the new CA');
    }
  });
});
