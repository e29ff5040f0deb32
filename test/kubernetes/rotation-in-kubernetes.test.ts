// Root rotation and self-signed root renewal in the Kubernetes home, against a real API server with
// two replicas: `meshca rotate --kubeconfig` puts the plan in Secret meshca-rotation, every replica
// applies it and counts its issuances in its own ConfigMap, the leader publishes the roots of each
// phase to istio-ca-root-cert, and openssl judges every chain. Then Istio's root rotator: the
// leader re-issues the self-signed root in istio-ca-secret with its key and every replica serves
// old + new roots.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCaClient } from '../../src/agent/ca-client.js';
import { makePluggedBundle, workloadCsr } from '../support/ca-server-fixture.js';
import { type KubeCluster, startKubeCluster } from '../support/kube-cluster.js';
import { metricValue, pemBlocks } from '../support/mesh-workloads.js';
import {
  CA_NAMESPACE,
  installMeshca,
  jsonpath,
  rootConfigMap,
  startReplica,
  workloadToken,
} from '../support/meshca-in-kubernetes.js';
import { runMeshca, type ServeProcess } from '../support/meshca-process.js';
import { opensslVerify } from '../support/openssl.js';
import { finishOnceOldRootUnused } from '../support/rotate.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

const DEADLINE_MS = 60_000;
/** Short-lived leaves, so that finish can be refused and then allowed within the test. */
const TTL_SECONDS = 15;
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('meshca rotate and root renewal in Kubernetes', { timeout: 300_000 }, () => {
  let cluster: KubeCluster;
  let kubeconfig: string;
  let tmp: TempDir;
  const replicas: ServeProcess[] = [];

  before(async () => {
    cluster = await startKubeCluster();
    kubeconfig = await installMeshca(cluster);
    tmp = makeTempDir('meshca-kube-rotate-');
  });
  after(async () => {
    for (const r of replicas) if (r.child.exitCode === null) await r.stop('SIGKILL');
    await cluster?.stop();
    tmp?.remove();
  });

  const start = async (name: string, env: Record<string, string> = {}) => {
    const replica = await startReplica(kubeconfig, name, { env });
    replicas.push(replica);
    return replica;
  };
  const stopAll = async () => {
    for (const r of replicas.splice(0)) await r.stop('SIGTERM');
  };
  const rotate = (...args: string[]) =>
    runMeshca(['rotate', ...args, '--kubeconfig', cluster.kubeconfigPath, '--namespace', CA_NAMESPACE]);
  const status = async () => (await rotate('status')).stdout;

  /** One certificate for foo/`sa` from `replica`, trusting `roots` for the CA's serving certificate. */
  async function issue(replica: ServeProcess, sa: string, roots: string): Promise<string[]> {
    const { csrPem } = await workloadCsr('foo', sa);
    const client = createCaClient({ address: `127.0.0.1:${replica.grpcPort}`, rootsPem: roots });
    try {
      return await client.createCertificate({
        csrPem,
        token: await workloadToken(cluster, 'foo', sa),
        ttlSeconds: TTL_SECONDS,
      });
    } finally {
      client.close();
    }
  }
  /** Whether openssl accepts the chain's leaf against `roots` alone. */
  const verifies = async (chain: string[], roots: string[]) =>
    (await opensslVerify(tmp, { roots, intermediates: chain.slice(1, -1), leaf: chain[0]! })).ok;
  const bundleFps = (pem: string) => pemBlocks(pem).map((p) => fingerprint(p));
  const published = (fps: string[], what: string) =>
    waitFor(
      what,
      async () => JSON.stringify(bundleFps(await rootConfigMap(cluster, 'foo'))) === JSON.stringify(fps),
      DEADLINE_MS,
    );

  test('prepare, status counting both replicas, activate, finish: A → A+B → B, with every misuse refused', async () => {
    const a = await makePluggedBundle(join(tmp.path, 'a'));
    const b = await makePluggedBundle(join(tmp.path, 'b'));
    const rootA = readFileSync(join(a, 'root-cert.pem'), 'utf8');
    const rootB = readFileSync(join(b, 'root-cert.pem'), 'utf8');
    const [fpA, fpB] = [fingerprint(rootA), fingerprint(rootB)];
    const both = rootA + rootB;
    await cluster.kubectl(['create', 'namespace', 'foo']);
    await cluster.kubectl(['create', 'secret', 'generic', 'cacerts', '-n', CA_NAMESPACE, `--from-file=${a}`]);
    let one = await start('meshca-r1');
    const two = await start('meshca-r2');
    await published([fpA], 'A in istio-ca-root-cert');

    // Before any rotation: activate and finish have nothing to act on; A itself is no new root; a
    // bundle whose intermediate does not chain to its root is refused.
    const early = await rotate('activate');
    assert.equal(early.code, 2, early.stderr);
    assert.match(early.stderr, /there is no prepared rotation to activate/);
    const same = await rotate('prepare', '--new-cacerts', a);
    assert.equal(same.code, 2, same.stderr);
    assert.match(same.stderr, /is one the CA already trusts; give a bundle with a new root/);
    const mixed = join(tmp.path, 'mixed');
    cpSync(b, mixed, { recursive: true });
    cpSync(join(a, 'root-cert.pem'), join(mixed, 'root-cert.pem'));
    const broken = await rotate('prepare', '--new-cacerts', mixed);
    assert.equal(broken.code, 3, broken.stderr);
    assert.match(broken.stderr, /the new bundle in .*mixed cannot be used/);

    // Two workloads, each known to one replica only, trusting A alone.
    assert.equal((await issue(one, 'sleep', rootA)).at(-1), rootA);
    assert.equal((await issue(two, 'httpbin', rootA)).at(-1), rootA);

    // What a replica killed with SIGKILL leaves: a report it no longer rewrites. Nobody waits for it.
    const stale = {
      replica: 'meshca-gone',
      pid: 1,
      writtenAt: new Date(Date.now() - 3_600_000).toISOString(),
    };
    await cluster.kubectl([
      'create',
      'configmap',
      'meshca-in-service-meshca-gone',
      '-n',
      CA_NAMESPACE,
      `--from-literal=in-service.json=${JSON.stringify({ ...stale, appliedRevision: 0 })}`,
    ]);
    await cluster.kubectl([
      'label',
      'configmap',
      'meshca-in-service-meshca-gone',
      '-n',
      CA_NAMESPACE,
      'meshca.io/rotation=in-service',
    ]);

    const prepared = await rotate('prepare', '--new-cacerts', b);
    assert.equal(prepared.code, 0, prepared.stderr);
    assert.doesNotMatch(prepared.stderr, /warning/);
    assert.doesNotMatch(prepared.stdout, /meshca-gone/);
    assert.match(prepared.stdout, /replica meshca-r1 applied it/);
    assert.match(prepared.stdout, /replica meshca-r2 applied it/);
    assert.equal(
      await jsonpath(cluster, ['secret', 'meshca-rotation', '-n', CA_NAMESPACE], '{.type}'),
      'Opaque',
    );
    await published([fpA, fpB], 'A+B in istio-ca-root-cert');
    // Both pending, one recorded by each replica; activate refuses and says who and until when.
    const pending = await waitFor('both identities pending', async () => {
      const text = await status();
      return /^pending: 2$/m.test(text) ? text : undefined;
    });
    assert.match(pending, /^ {2}spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep \(last certificate/m);
    assert.match(pending, /^ {2}spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin \(last certificate/m);
    assert.match(pending, /^the last pending identity must have renewed by /m);
    const refused = await rotate('activate');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /2 workload identities have not received the new root yet/);

    // Each renews from the other replica: every issuance hands out A+B, still signed under A.
    for (const [replica, sa] of [
      [two, 'sleep'],
      [one, 'httpbin'],
    ] as const) {
      const chain = await issue(replica, sa, rootA);
      assert.deepEqual(bundleFps(chain.at(-1)!), [fpA, fpB]);
      assert.ok(await verifies(chain, [rootA]), 'still signed under A');
    }
    await waitFor(
      'both confirmed',
      async () => /^confirmed: 2\n(.*\n){2}pending: 0$/m.test(await status()),
      DEADLINE_MS,
    );
    // The phase and the confirmations live in the cluster: a replica restarted now picks up both.
    await one.stop('SIGTERM');
    replicas.splice(replicas.indexOf(one), 1);
    one = await start('meshca-r1');
    const afterRestart = await status();
    assert.match(afterRestart, /^phase: prepared/m);
    assert.match(afterRestart, /^confirmed: 2$/m);
    assert.match(afterRestart, /^pending: 0$/m);
    assert.equal(
      await jsonpath(
        cluster,
        ['configmap', 'meshca-in-service-meshca-gone', '-n', CA_NAMESPACE],
        '{.metadata.name}',
      ),
      '',
      'a starting replica removed the stale report',
    );
    assert.deepEqual(bundleFps((await issue(one, 'ratings', rootA)).at(-1)!), [fpA, fpB]);

    const activated = await rotate('activate');
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, /replica meshca-r1 applied it/);
    assert.match(activated.stdout, /replica meshca-r2 applied it/);
    for (const replica of [one, two]) {
      const chain = await issue(replica, 'sleep', both);
      assert.deepEqual(bundleFps(chain.at(-1)!), [fpA, fpB]);
      assert.ok(await verifies(chain, [rootB]), 'new leaves chain to B');
      assert.equal(await verifies(chain, [rootA]), false, 'and not to A');
    }
    // Certificates from A's intermediate are still valid: finish refuses and says until when.
    const tooEarly = await rotate('finish');
    assert.equal(tooEarly.code, 1, tooEarly.stderr);
    assert.match(tooEarly.stderr, /certificates issued under the old root are valid until /);
    await finishOnceOldRootUnused(rotate, DEADLINE_MS);
    await published([fpB], 'B alone in istio-ca-root-cert');
    for (const replica of [one, two]) assert.equal((await issue(replica, 'sleep', both)).at(-1), rootB);

    // The phase lives in the cluster: a replica started now serves B alone at once.
    const three = await start('meshca-r3');
    assert.equal((await issue(three, 'httpbin', rootB)).at(-1), rootB);
    assert.match(await status(), /^phase: finished/m);
    const replicaMetrics = await (await fetch(`http://127.0.0.1:${one.monitoringPort}/metrics`)).text();
    assert.equal(metricValue(replicaMetrics, 'meshca_rotation_phase{phase="finished"}'), 1);
    await stopAll();
    await cluster.kubectl(['delete', 'secret', 'cacerts', 'meshca-rotation', '-n', CA_NAMESPACE]);
  });

  test('the leader renews the self-signed root in istio-ca-secret with its key; every replica serves old + new', async () => {
    // A one-day root, due once less than 99.99% of it is left: renewed some 9 s after it is made.
    const env = {
      CITADEL_SELF_SIGNED_CA_CERT_TTL: '24h',
      CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE: '99.99',
      CITADEL_SELF_SIGNED_ROOT_CERT_CHECK_INTERVAL: '1s',
    };
    const [one, two] = [await start('meshca-s1', env), await start('meshca-s2', env)];
    const secretRoots = async () =>
      Buffer.from(
        await jsonpath(cluster, ['secret', 'istio-ca-secret', '-n', CA_NAMESPACE], '{.data.root-cert\\.pem}'),
        'base64',
      ).toString();
    const original = pemBlocks(await secretRoots())[0]!;
    const renewed = await waitFor(
      'a renewal by one replica',
      () => [one, two].find((r) => r.logs.some((l) => l.event === 'root-renewed')),
      DEADLINE_MS,
    );
    assert.equal(
      [one, two].filter((r) => r.logs.some((l) => l.event === 'root-renewed')).length,
      1,
      'the leader alone renews',
    );
    const roots = pemBlocks(await secretRoots());
    assert.ok(roots.length >= 2, 'old and new roots in istio-ca-secret');
    assert.ok(roots.includes(original), 'the original root stays in the bundle');
    const newest = new X509Certificate(roots[0]!);
    assert.equal(newest.subject, new X509Certificate(original).subject);
    assert.ok(
      newest.publicKey.equals(new X509Certificate(original).publicKey),
      'the same key signs the renewed root',
    );
    const metrics = await (await fetch(`http://127.0.0.1:${renewed.monitoringPort}/metrics`)).text();
    assert.ok((metricValue(metrics, 'meshca_self_signed_root_renewals_total') ?? 0) >= 1, metrics);
    // Every replica reloads it: its issuances carry old + new roots and verify against either alone.
    for (const replica of [one, two]) {
      const chain = await waitFor(
        `${replica === one ? 'meshca-s1' : 'meshca-s2'} serving the renewed root`,
        async () => {
          // The root keeps being renewed (every ~9 s here), so trust what the Secret holds now.
          const c = await issue(replica, 'sleep', await secretRoots());
          return pemBlocks(c.at(-1)!).length >= 2 ? c : undefined;
        },
        DEADLINE_MS,
      );
      assert.ok(await verifies(chain, [original]), 'a leaf verifies against the original root alone');
      assert.ok(await verifies(chain, [pemBlocks(chain.at(-1)!)[0]!]), 'and against the renewed root alone');
    }
    await waitFor(
      'istio-ca-root-cert with old and new roots',
      async () => pemBlocks(await rootConfigMap(cluster, 'foo')).length >= 2,
      DEADLINE_MS,
    );
    await stopAll();
  });

  test('the manifests grant what rotation and renewal use', async () => {
    const as = `--as=system:serviceaccount:${CA_NAMESPACE}:meshca`;
    const can = async (args: string[]) =>
      (await cluster.kubectlResult(['auth', 'can-i', ...args, as])).code === 0;
    for (const a of [
      ['get', 'secrets/meshca-rotation', '-n', CA_NAMESPACE],
      ['watch', 'secrets/meshca-rotation', '-n', CA_NAMESPACE],
      ['update', 'secrets/istio-ca-secret', '-n', CA_NAMESPACE],
      ['delete', 'configmaps/meshca-in-service-meshca-r1', '-n', CA_NAMESPACE],
    ])
      assert.ok(await can(a), `meshca may ${a.join(' ')}`);
    for (const a of [
      ['update', 'secrets/meshca-rotation', '-n', CA_NAMESPACE],
      ['update', 'secrets/cacerts', '-n', CA_NAMESPACE],
      ['delete', 'configmaps/istio-ca-root-cert', '-n', 'foo'],
    ])
      assert.equal(await can(a), false, `meshca may not ${a.join(' ')}`);
  });
});
