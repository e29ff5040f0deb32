// meshca as the mesh's CA in a real cluster (kube-apiserver + etcd from the peers harness): the
// seed task's kubectl commands, three replicas, the istio-ca-root-cert ConfigMaps, TokenReview,
// the cacerts Secret watched, a bad update refused, leader failover under load, and openssl as judge.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CaClient, createCaClient } from '../../src/agent/ca-client.js';
import { workloadCsr } from '../support/ca-server-fixture.js';
import { type KubeCluster, startKubeCluster } from '../support/kube-cluster.js';
import { openssl } from '../support/mesh-certs.js';
import { metricValue, pemBlocks } from '../support/mesh-workloads.js';
import {
  CA_NAMESPACE,
  cacertsFiles,
  installMeshca,
  jsonpath,
  replaceCacerts,
  rootConfigMap,
  startReplica,
  workloadToken,
} from '../support/meshca-in-kubernetes.js';
import { runMeshca, type ServeProcess } from '../support/meshca-process.js';
import { startPilotAgent } from '../support/pilot-agent.js';
import { startStallingProxy } from '../support/stalling-proxy.js';
import { waitFor } from '../support/wait-for.js';

const DEADLINE_MS = 60_000;

describe('meshca in Kubernetes', () => {
  let cluster: KubeCluster;
  let kubeconfig: string;
  let work: string;
  const replicas: ServeProcess[] = [];

  before(async () => {
    cluster = await startKubeCluster();
    kubeconfig = await installMeshca(cluster);
    work = await mkdtemp(join(tmpdir(), 'meshca-kube-'));
    for (const ns of ['foo', 'bar']) await cluster.kubectl(['create', 'namespace', ns]);
  });
  after(async () => {
    for (const r of replicas) if (r.child.exitCode === null) await r.stop('SIGKILL');
    await cluster?.stop();
  });

  /** Waits until `namespace`'s istio-ca-root-cert holds exactly `roots`. */
  const rootPublished = (namespace: string, roots: string, what: string) =>
    waitFor(what, async () => (await rootConfigMap(cluster, namespace)) === roots, DEADLINE_MS);

  /** One certificate for foo/sleep from the replica at `port`, with a TokenRequest token. */
  async function issue(port: number, roots: string, token: string): Promise<string[]> {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const client = createCaClient({ address: `127.0.0.1:${port}`, rootsPem: roots });
    try {
      return await client.createCertificate({ csrPem, token });
    } finally {
      client.close();
    }
  }

  async function verifyWithOpenssl(chain: string[], rootPem: string): Promise<void> {
    const dir = await mkdtemp(join(work, 'verify-'));
    await writeFile(join(dir, 'root.pem'), rootPem);
    const pem = (block: string) => `${block.trim()}\n`;
    await writeFile(join(dir, 'chain.pem'), chain.slice(1, -1).map(pem).join(''));
    await writeFile(join(dir, 'leaf.pem'), pem(chain[0]!));
    const args = ['verify', '-CAfile', join(dir, 'root.pem')];
    if (chain.length > 2) args.push('-untrusted', join(dir, 'chain.pem'));
    assert.match(await openssl([...args, join(dir, 'leaf.pem')]), /leaf\.pem: OK/);
  }

  test('three replicas agree on one self-signed root in istio-ca-secret, publish it to every namespace and issue with TokenRequest tokens', async () => {
    const started = await Promise.all(['a', 'b', 'c'].map((n) => startReplica(kubeconfig, `meshca-${n}`)));
    replicas.push(...started);
    const creators = started.filter((r) => r.logs.some((l) => l.msg === 'created self-signed root CA'));
    assert.equal(creators.length, 1, 'exactly one replica created the root');
    const root = Buffer.from(
      await jsonpath(cluster, ['secret', 'istio-ca-secret', '-n', CA_NAMESPACE], '{.data.root-cert\\.pem}'),
      'base64',
    ).toString();
    assert.match(root, /BEGIN CERTIFICATE/);
    assert.equal(
      await jsonpath(cluster, ['secret', 'istio-ca-secret', '-n', CA_NAMESPACE], '{.type}'),
      'istio.io/ca-root',
    );
    for (const ns of ['foo', 'bar', CA_NAMESPACE, 'default'])
      await rootPublished(ns, root, `istio-ca-root-cert in ${ns}`);
    await cluster.kubectl(['create', 'namespace', 'late']);
    await rootPublished('late', root, 'istio-ca-root-cert in a new namespace');

    const token = await workloadToken(cluster, 'foo', 'sleep');
    for (const replica of started) {
      const chain = await issue(replica.grpcPort, root, token);
      assert.equal(chain.at(-1), root, 'the trust bundle is the root in istio-ca-secret');
      await verifyWithOpenssl(chain, root);
      await writeFile(join(work, 'leaf.pem'), chain[0]!);
      const text = await openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', join(work, 'leaf.pem')]);
      assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep/);
    }
    const wrongAudience = await workloadToken(cluster, 'foo', 'sleep', 'not-istio-ca');
    await assert.rejects(
      issue(started[0]!.grpcPort, root, wrongAudience),
      /UNAUTHENTICATED|unauthenticated/i,
    );
    await waitFor(
      'the refusal in the log',
      () => started[0]!.logs.some((l) => l.code === 'KUBE_TOKEN_REJECTED'),
      DEADLINE_MS,
    );
  });

  test("--token-check jwks checks tokens offline with the API server's service-account keys", async () => {
    const replica = await startReplica(kubeconfig, 'meshca-jwks', { args: ['--token-check', 'jwks'] });
    try {
      const loaded = await replica.waitForLog((l) => l.event === 'kube-jwks-loaded', DEADLINE_MS);
      assert.equal(loaded.issuer, cluster.serviceAccountIssuer);
      const root = await rootConfigMap(cluster, 'foo');
      const chain = await issue(replica.grpcPort, root, await workloadToken(cluster, 'foo', 'sleep'));
      assert.equal(chain.at(-1), root);
      await verifyWithOpenssl(chain, root);
      const other = await workloadToken(cluster, 'foo', 'sleep', 'not-istio-ca');
      await assert.rejects(issue(replica.grpcPort, root, other), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CA_CALL_UNAUTHENTICATED', err.message);
        return true;
      });
      const refused = await replica.waitForLog((l) => l.outcome === 'unauthenticated', DEADLINE_MS);
      assert.equal(refused.code, 'IDENTITY_TOKEN_AUDIENCE');
    } finally {
      await replica.stop('SIGTERM');
    }
  });

  test("the seed's cacerts Secret takes effect without a restart; a bad update is refused with an Event, a log line and the metric", async () => {
    assert.equal(replicas.length, 3, 'runs after the replicas started');
    const certs = join(work, 'certs');
    for (const step of [
      ['certs', 'root-ca'],
      ['certs', 'cluster1-cacerts'],
    ])
      assert.equal((await runMeshca([...step, '--dir', certs])).code, 0);
    const c1 = join(certs, 'cluster1');
    // The seed task's command, literally.
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'cacerts',
      '-n',
      CA_NAMESPACE,
      `--from-file=${c1}/ca-cert.pem`,
      `--from-file=${c1}/ca-key.pem`,
      `--from-file=${c1}/root-cert.pem`,
      `--from-file=${c1}/cert-chain.pem`,
    ]);
    const root = await readFile(join(c1, 'root-cert.pem'), 'utf8');
    const caCert = await readFile(join(c1, 'ca-cert.pem'), 'utf8');
    for (const r of replicas)
      await r.waitForLog((l) => l.msg === 'CA bundle reloaded' && l.rootChanged === true, DEADLINE_MS);
    for (const ns of ['foo', 'bar', CA_NAMESPACE])
      await rootPublished(ns, root, `the plugged root in ${ns}'s istio-ca-root-cert`);
    const token = await workloadToken(cluster, 'foo', 'sleep');
    for (const r of replicas) {
      const chain = await issue(r.grpcPort, root, token);
      assert.equal(chain.at(-1), root, 'root identical');
      assert.equal(chain[1], caCert, 'CA identical');
      await verifyWithOpenssl(chain, root);
    }

    // A key that belongs to another certificate: refused, and the last good bundle keeps signing.
    const other = join(certs, 'cluster2');
    assert.equal((await runMeshca(['certs', 'cluster2-cacerts', '--dir', certs])).code, 0);
    await replaceCacerts(cluster, { ...cacertsFiles(c1), key: join(other, 'ca-key.pem') });
    for (const r of replicas) {
      const line = await r.waitForLog((l) => l.event === 'ca-reload-failed', DEADLINE_MS);
      assert.equal(line.code, 'CA_KEY_MISMATCH');
      assert.match(
        String(line.reason),
        /Secret istio-system\/cacerts\/ca-key\.pem: key does not match certificate/,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${r.monitoringPort}/metrics`)).text();
      assert.ok((metricValue(metrics, 'meshca_ca_reload_failures_total') ?? 0) >= 1, metrics);
      const chain = await issue(r.grpcPort, root, token);
      assert.equal(chain[1], caCert, 'the last good bundle keeps serving');
    }
    await waitFor(
      'a CaBundleRefused Event on the cacerts Secret',
      async () =>
        (
          await cluster.kubectl([
            'get',
            'events',
            '-n',
            CA_NAMESPACE,
            '--field-selector',
            'involvedObject.name=cacerts',
            '-o',
            'jsonpath={.items[*].reason}',
          ])
        ).includes('CaBundleRefused'),
      DEADLINE_MS,
    );
    // Put the good bundle back for the tests that follow.
    await replaceCacerts(cluster, cacertsFiles(c1));
    for (const r of replicas) await r.waitForLog((l) => l.event === 'ca-reload-recovered', DEADLINE_MS);
  });

  test("Istio's pilot-agent with a TokenRequest token gets its certificate from meshca in the cluster", async () => {
    const root = await waitFor('the trust bundle in foo', () => rootConfigMap(cluster, 'foo'), DEADLINE_MS);
    const agent = await startPilotAgent({
      caAddress: `127.0.0.1:${replicas[1]!.grpcPort}`,
      // What Istio mounts into every pod: the namespace's istio-ca-root-cert.
      caRootPem: root,
      token: await workloadToken(cluster, 'foo', 'httpbin'),
      namespace: 'foo',
      serviceAccount: 'httpbin',
      secretTtl: '1h',
    });
    try {
      const files = await agent.waitForFiles(DEADLINE_MS);
      // pilot-agent writes the bundle without its last newline.
      assert.equal(files.rootsPem.trim(), root.trim());
      await verifyWithOpenssl(pemBlocks(files.chainPem).concat(root), root);
      assert.match(files.leaf.subjectAltName ?? '', /URI:spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin/);
      const issued = await replicas[1]!.waitForLog(
        (l) => l.msg === 'certificate issued' && l.caller === 'foo/httpbin',
        DEADLINE_MS,
      );
      assert.equal(issued.spiffeId, 'spiffe://cluster.local/ns/foo/sa/httpbin');
    } finally {
      await agent.stop();
    }
  });

  test('kill -9 the leader under load: another replica takes over, a root change still reaches every ConfigMap, and agents that know every CA address see no failed renewal', async () => {
    const leading = (r: ServeProcess) => {
      const events = r.logs.filter((l) => l.event === 'leader-elected' || l.event === 'leader-lost');
      return events.at(-1)?.event === 'leader-elected';
    };
    const leader = await waitFor('a leader', () => replicas.find(leading), DEADLINE_MS);
    const root = await rootConfigMap(cluster, 'foo');
    const token = await workloadToken(cluster, 'foo', 'sleep');
    const clients: CaClient[] = replicas.map((r) =>
      createCaClient({ address: `127.0.0.1:${r.grpcPort}`, rootsPem: root }),
    );
    let renewed = 0;
    const failures: string[] = [];
    let loading = true;
    // Four agents, each knowing every CA address: a renewal fails only if every address fails.
    const agent = async (n: number) => {
      for (let round = 0; loading; round++) {
        const { csrPem } = await workloadCsr('foo', 'sleep');
        const errors: string[] = [];
        for (let i = 0; i < clients.length; i++) {
          const client = clients[(n + round + i) % clients.length]!;
          try {
            await client.createCertificate({ csrPem, token, deadlineMs: 5000 });
            renewed++;
            errors.length = 0;
            break;
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
        if (errors.length === clients.length) failures.push(errors.join(' | '));
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(agent));
    await waitFor('renewals under way', () => renewed >= 20, DEADLINE_MS);
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    const others = replicas.filter((r) => r !== leader);
    const next = await waitFor('another leader', () => others.find(leading), DEADLINE_MS);
    const takeoverMs = Date.now() - killedAt;
    const before = renewed;
    await waitFor('renewals after the failover', () => renewed >= before + 20, DEADLINE_MS);
    loading = false;
    await load;
    for (const c of clients) c.close();
    assert.deepEqual(failures, [], 'no renewal failed on every address');
    console.log(
      `# failover: ${next.logs.find((l) => l.event === 'leader-elected')?.identity} took over ${takeoverMs} ms after the kill (lease 3 s); ${renewed} renewals, none failed`,
    );

    // The root changes after the failover: the new leader brings it to every namespace.
    // A new root and a new intermediate under it.
    const newRoot = join(work, 'newroot');
    assert.equal((await runMeshca(['certs', 'root-ca', '--dir', newRoot])).code, 0);
    assert.equal((await runMeshca(['certs', 'cluster1-cacerts', '--dir', newRoot])).code, 0);
    const n1 = join(newRoot, 'cluster1');
    await replaceCacerts(cluster, cacertsFiles(n1));
    const rotatedRoot = await readFile(join(n1, 'root-cert.pem'), 'utf8');
    for (const ns of ['foo', 'bar', 'late', CA_NAMESPACE, 'default'])
      await rootPublished(ns, rotatedRoot, `the new root in ${ns}`);
    assert.equal(pemBlocks(rotatedRoot).length, 1);
  });

  test('an API server restart: the watches resume and nothing is lost', async () => {
    const live = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    const root = await rootConfigMap(cluster, 'foo');
    await cluster.restartApiServer();
    await cluster.kubectl(['create', 'namespace', 'after-restart']);
    await rootPublished('after-restart', root, 'istio-ca-root-cert in a namespace made after the restart');
    const token = await workloadToken(cluster, 'foo', 'sleep');
    for (const r of live) assert.equal((await issue(r.grpcPort, root, token)).at(-1), root);
  });

  test('a TokenReview that hangs is UNAVAILABLE to the caller, not UNAUTHENTICATED; a deleted cacerts Secret keeps the bundle in service', async () => {
    const proxy = await startStallingProxy({ host: '127.0.0.1', port: cluster.port });
    const config = JSON.parse(await readFile(kubeconfig, 'utf8'));
    config.clusters[0].cluster.server = `https://127.0.0.1:${proxy.port}`;
    const proxied = join(work, 'proxied.kubeconfig');
    await writeFile(proxied, JSON.stringify(config));
    const replica = await startReplica(proxied, 'meshca-proxied', {
      env: { MESHCA_TOKEN_REVIEW_TIMEOUT: '1s' },
    });
    replicas.push(replica);
    try {
      const root = await rootConfigMap(cluster, 'foo');
      const token = await workloadToken(cluster, 'foo', 'sleep');
      proxy.stall();
      await assert.rejects(issue(replica.grpcPort, root, token), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CA_CALL_UNAVAILABLE', err.message);
        return true;
      });
      const refused = await replica.waitForLog((l) => l.outcome === 'unavailable', DEADLINE_MS);
      assert.equal(refused.code, 'KUBE_TOKEN_REVIEW_UNAVAILABLE', JSON.stringify(refused));
      proxy.resume();
      assert.equal(
        (await issue(replica.grpcPort, root, token)).at(-1),
        root,
        'works again once the API server answers',
      );

      // The plugged Secret deleted while serving: refused as a change, the bundle keeps signing.
      await cluster.kubectl(['delete', 'secret', 'cacerts', '-n', CA_NAMESPACE]);
      const line = await replica.waitForLog((l) => l.event === 'ca-reload-failed', DEADLINE_MS);
      assert.equal(line.code, 'KUBE_CACERTS_DELETED');
      assert.equal((await issue(replica.grpcPort, root, token)).at(-1), root);
    } finally {
      proxy.resume();
      await proxy.close();
    }
  });

  test('the manifests grant meshca exactly what it uses', async () => {
    const as = `--as=system:serviceaccount:${CA_NAMESPACE}:meshca`;
    const can = async (args: string[]) =>
      (await cluster.kubectlResult(['auth', 'can-i', ...args, as])).code === 0;
    const allowed = [
      ['create', 'tokenreviews.authentication.k8s.io'],
      ['get', 'namespaces'],
      ['list', 'namespaces'],
      ['watch', 'namespaces'],
      ['list', 'configmaps', '-A'],
      ['watch', 'configmaps', '-A'],
      ['create', 'configmaps', '-n', 'foo'],
      ['update', 'configmaps/istio-ca-root-cert', '-n', 'foo'],
      ['get', 'secrets/cacerts', '-n', CA_NAMESPACE],
      ['watch', 'secrets/cacerts', '-n', CA_NAMESPACE],
      ['get', 'secrets/istio-ca-secret', '-n', CA_NAMESPACE],
      ['create', 'secrets', '-n', CA_NAMESPACE],
      ['get', 'leases.coordination.k8s.io/meshca-leader', '-n', CA_NAMESPACE],
      ['update', 'leases.coordination.k8s.io/meshca-leader', '-n', CA_NAMESPACE],
      ['create', 'leases.coordination.k8s.io', '-n', CA_NAMESPACE],
      ['create', 'events', '-n', CA_NAMESPACE],
    ];
    const denied = [
      ['get', 'secrets/other', '-n', CA_NAMESPACE],
      ['list', 'secrets', '-n', CA_NAMESPACE],
      ['get', 'secrets/cacerts', '-n', 'foo'],
      ['delete', 'secrets/cacerts', '-n', CA_NAMESPACE],
      ['delete', 'configmaps/istio-ca-root-cert', '-n', 'foo'],
      ['patch', 'configmaps/istio-ca-root-cert', '-n', 'foo'],
      ['update', 'leases.coordination.k8s.io/other', '-n', CA_NAMESPACE],
      ['create', 'pods', '-n', 'foo'],
      ['create', 'certificatesigningrequests.certificates.k8s.io'],
    ];
    for (const a of allowed) assert.ok(await can(a), `meshca may ${a.join(' ')}`);
    for (const d of denied) assert.ok(!(await can(d)), `meshca may not ${d.join(' ')}`);
  });

  test('refusals at start: no RBAC names the verb, resource and namespace; an unreachable API server says so', async () => {
    await cluster.kubectl(['create', 'serviceaccount', 'nobody', '-n', 'foo']);
    const token = (await cluster.kubectl(['create', 'token', 'nobody', '-n', 'foo'])).trim();
    const nobody = await cluster.kubeconfigFor(token, 'nobody');
    const data = await mkdtemp(join(work, 'nobody-'));
    const forbidden = await runMeshca([
      'serve',
      '--kubeconfig',
      nobody,
      '--data-dir',
      data,
      '--listen',
      '127.0.0.1:0',
      '--monitoring',
      'off',
    ]);
    assert.equal(forbidden.code, 3, forbidden.stderr);
    assert.match(forbidden.stderr, /meshca may not get namespaces\/istio-system/);
    assert.match(forbidden.stderr, /grant the verb "get" on "namespaces"/);
    assert.ok(!forbidden.stderr.includes('    at '), 'no stack trace');

    const unreachable = join(work, 'unreachable.kubeconfig');
    // The same kubeconfig, pointing at a port nothing listens on.
    const config = JSON.parse(await readFile(kubeconfig, 'utf8'));
    config.clusters[0].cluster.server = 'https://127.0.0.1:1';
    await writeFile(unreachable, JSON.stringify(config));
    const down = await runMeshca([
      'serve',
      '--kubeconfig',
      unreachable,
      '--data-dir',
      data,
      '--listen',
      '127.0.0.1:0',
      '--monitoring',
      'off',
    ]);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1/);

    const badNs = await runMeshca([
      'serve',
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'Bad_NS',
      '--data-dir',
      data,
      '--listen',
      '127.0.0.1:0',
      '--monitoring',
      'off',
    ]);
    assert.equal(badNs.code, 2, badNs.stderr);
    assert.match(badNs.stderr, /--namespace "Bad_NS" is not a Kubernetes namespace name/);
  });

  test("replacing istiod's CA: with --istiod-tls the leader keeps istiod's serving certificate in Secret istiod-tls", async () => {
    // Every replica runs with the same flags: stop these (a stopped leader releases the lease).
    for (const r of replicas)
      if (r.child.exitCode === null && r.child.signalCode === null) await r.stop('SIGTERM');
    // What the chart's istiodTLS.enabled adds to meshca's RBAC.
    await cluster.kubectl([
      'create',
      'role',
      'meshca-istiod-tls',
      '-n',
      CA_NAMESPACE,
      '--verb=get,update',
      '--resource=secrets',
      '--resource-name=istiod-tls',
    ]);
    await cluster.kubectl([
      'create',
      'rolebinding',
      'meshca-istiod-tls',
      '-n',
      CA_NAMESPACE,
      '--role=meshca-istiod-tls',
      `--serviceaccount=${CA_NAMESPACE}:meshca`,
    ]);
    const replica = await startReplica(kubeconfig, 'meshca-istiod', { args: ['--istiod-tls'] });
    replicas.push(replica);
    const written = await replica.waitForLog((l) => l.event === 'istiod-tls-written', DEADLINE_MS);
    const field = async (key: string) =>
      Buffer.from(
        await jsonpath(
          cluster,
          ['secret', 'istiod-tls', '-n', CA_NAMESPACE],
          `{.data.${key.replace('.', '\\.')}}`,
        ),
        'base64',
      ).toString();
    assert.equal(
      await jsonpath(cluster, ['secret', 'istiod-tls', '-n', CA_NAMESPACE], '{.type}'),
      'kubernetes.io/tls',
    );
    const dir = await mkdtemp(join(work, 'istiod-tls-'));
    const tlsCrt = await field('tls.crt');
    const caCrt = await field('ca.crt');
    // The new leader writes istiod-tls and the ConfigMaps at once, in no set order.
    await rootPublished('foo', caCrt, 'ca.crt is the trust bundle the workloads have');
    const blocks = pemBlocks(tlsCrt).map((b) => `${b.trim()}\n`);
    await writeFile(join(dir, 'leaf.pem'), blocks[0]!);
    await writeFile(join(dir, 'chain.pem'), blocks.slice(1).join(''));
    await writeFile(join(dir, 'ca.pem'), caCrt);
    const args = ['verify', '-verify_hostname', 'istiod.istio-system.svc', '-CAfile', join(dir, 'ca.pem')];
    if (blocks.length > 1) args.push('-untrusted', join(dir, 'chain.pem'));
    assert.match(await openssl([...args, join(dir, 'leaf.pem')]), /leaf\.pem: OK/);
    await writeFile(join(dir, 'key.pem'), await field('tls.key'));
    const keyPub = await openssl(['pkey', '-in', join(dir, 'key.pem'), '-pubout']);
    const certPub = await openssl(['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-pubkey']);
    assert.equal(keyPub, certPub, 'tls.key belongs to tls.crt');
    assert.ok(written.serial);
  });
});
