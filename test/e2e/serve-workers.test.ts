// `meshca serve --workers N` as a user runs it: a primary and its worker processes on one port, one
// data directory, one monitoring port; signals go to the primary and reach every worker.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CaClient, createCaClient } from '../../src/agent/ca-client.js';
import { readIssuanceRecords } from '../../src/ca/rotation/issuance-record-files.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import { workloadCsr } from '../support/ca-server-fixture.js';
import { metricValue } from '../support/mesh-workloads.js';
import { runMeshca, type ServeProcess, startServe } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

/** Distinct HTTP/2 connections: grpc-js would otherwise share one among clients of one address. */
function clients(port: number, rootsPem: string, count: number): CaClient[] {
  return Array.from({ length: count }, () =>
    createCaClient({
      address: `127.0.0.1:${port}`,
      rootsPem,
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    }),
  );
}

/** One certificate for foo/sleep on each of `count` connections; every chain ends in the data dir's root. */
async function issueOnEachConnection(server: ServeProcess, dataDir: string, count: number): Promise<void> {
  const root = await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
  const token = (
    await runMeshca(['token', '--data-dir', dataDir, '-n', 'foo', '--service-account', 'sleep'])
  ).stdout.trim();
  const pool = clients(server.grpcPort, root, count);
  try {
    for (const client of pool) {
      const { csrPem } = await workloadCsr('foo', 'sleep');
      assert.equal((await client.createCertificate({ csrPem, token })).at(-1), root);
    }
  } finally {
    for (const c of pool) c.close();
  }
}

const workersServing = (server: ServeProcess) => server.logs.filter((l) => l.msg === 'worker serving');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

describe('meshca serve --workers 2', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshca-e2e-workers-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('fresh data dir: one root, 200 CSRs over 8 connections served by both workers, metrics summed, SIGTERM stops all', async () => {
    const dataDir = join(dir, 'fresh');
    const server = await startServe(['--data-dir', dataDir, '--workers', '2']);
    const workers = workersServing(server);
    assert.equal(workers.length, 2, 'both workers serve before the primary announces the CA');
    for (const w of workers) assert.equal(w.grpc, `127.0.0.1:${server.grpcPort}`, 'one shared port');
    assert.equal(server.logs.filter((l) => l.msg === 'created self-signed root CA').length, 1);
    const root = await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
    assert.equal(parseCertificates(root).length, 1);

    const token = (
      await runMeshca(['token', '--data-dir', dataDir, '-n', 'foo', '--service-account', 'sleep'])
    ).stdout.trim();
    const csrs = await Promise.all(Array.from({ length: 200 }, () => workloadCsr('foo', 'sleep')));
    const pool = clients(server.grpcPort, root, 8);
    try {
      const chains = await Promise.all(
        csrs.map(({ csrPem }, i) => pool[i % pool.length]!.createCertificate({ csrPem, token })),
      );
      for (const chain of chains) assert.equal(chain.at(-1), root);
    } finally {
      for (const c of pool) c.close();
    }
    // A worker logs before it answers, but its log reaches us through a pipe, the answer over TCP:
    // the last lines may arrive after the last certificate.
    const issued = await waitFor(
      '200 "certificate issued" lines',
      () => {
        const lines = server.logs.filter((l) => l.msg === 'certificate issued');
        return lines.length >= 200 ? lines : undefined;
      },
      10_000,
    );
    assert.equal(issued.length, 200);
    for (const w of workers)
      assert.ok(
        issued.some((l) => l.worker === w.worker),
        `worker ${w.worker} issued none of ${issued.length}`,
      );
    assert.ok(
      issued.every((l) => workers.some((w) => w.worker === l.worker)),
      'every line names its worker',
    );

    const metrics = await get(server.monitoringPort!, '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metricValue(metrics.text, 'citadel_server_success_cert_issuance_count'), 200);
    assert.equal(metricValue(metrics.text, 'citadel_server_csr_count'), 200);
    assert.equal(metricValue(metrics.text, 'meshca_workers'), 2);
    // An expiry is the same for every worker, not their sum.
    const notAfter = parseCertificates(root)[0]!.notAfter.getTime() / 1000;
    assert.equal(metricValue(metrics.text, 'citadel_server_root_cert_expiry_timestamp'), notAfter);
    assert.deepEqual(await get(server.monitoringPort!, '/readyz'), { status: 200, text: 'ready\n' });

    assert.equal(await server.stop('SIGTERM'), 0);
    assert.equal(server.logs.filter((l) => l.msg === 'meshca CA serving').length, 1);
    assert.equal(server.logs.filter((l) => l.msg === 'worker stopped').length, 2);
    for (const w of workers) assert.equal(alive(Number(w.pid)), false, `worker pid ${w.pid} is gone`);
  });

  test('issuance records for meshca rotate: each worker keeps its own file, and none is lost', async () => {
    const dataDir = join(dir, 'records');
    const server = await startServe(['--data-dir', dataDir, '--workers', '2']);
    const root = await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
    const accounts = Array.from({ length: 8 }, (_, i) => `sa-${i}`);
    const pool = clients(server.grpcPort, root, accounts.length);
    try {
      // All at once, one identity per connection: both workers record and write at the same moments.
      await Promise.all(
        accounts.map(async (sa, i) => {
          const token = (
            await runMeshca(['token', '--data-dir', dataDir, '-n', 'foo', '--service-account', sa])
          ).stdout.trim();
          const { csrPem } = await workloadCsr('foo', sa);
          await pool[i]!.createCertificate({ csrPem, token });
        }),
      );
    } finally {
      for (const c of pool) c.close();
    }
    const records = await waitFor('every identity recorded', async () => {
      const { identities } = await readIssuanceRecords(dataDir);
      return Object.keys(identities).length === accounts.length ? identities : undefined;
    });
    assert.deepEqual(
      Object.keys(records).sort(),
      accounts.map((sa) => `spiffe://cluster.local/ns/foo/sa/${sa}`).sort(),
    );
    const issuedBy = new Set(server.logs.filter((l) => l.msg === 'certificate issued').map((l) => l.worker));
    assert.equal(issuedBy.size, 2, 'both workers issued');
    for (const n of [1, 2]) {
      const copy = JSON.parse(
        await readFile(join(dataDir, 'ca-status', `issuances-worker-${n}.json`), 'utf8'),
      );
      assert.ok(Object.keys(copy.identities).length > 0, `worker-${n} wrote its own records`);
    }
    assert.equal(await server.stop('SIGTERM'), 0);
  });

  test('SIGHUP reaches every worker: each reloads a plugged-in bundle', async () => {
    const certs = join(dir, 'certs');
    assert.equal((await runMeshca(['certs', 'root-ca', '--dir', certs])).code, 0);
    assert.equal((await runMeshca(['certs', 'cluster1-cacerts', '--dir', certs])).code, 0);
    const cacerts = join(certs, 'cluster1');
    const serial = parseCertificates(await readFile(join(cacerts, 'ca-cert.pem'), 'utf8'))[0]!.serialHex;
    const server = await startServe([
      '--cacerts',
      cacerts,
      '--data-dir',
      join(dir, 'plugged'),
      '--workers',
      '2',
    ]);
    const ids = workersServing(server).map((w) => w.worker);
    assert.equal(ids.length, 2);
    assert.equal((await runMeshca(['certs', 'cluster1-cacerts', '--dir', certs, '--force'])).code, 0);
    server.child.kill('SIGHUP');
    for (const id of ids) {
      await server.waitForLog((l) => l.event === 'sighup' && l.worker === id);
      const reloaded = await server.waitForLog((l) => l.event === 'ca-reloaded' && l.worker === id);
      assert.equal(reloaded.previousSerial, serial);
      assert.equal(reloaded.rootChanged, false);
    }
    assert.equal(await server.stop('SIGINT'), 0);
  });

  test('a worker that dies is restarted on the same port; the CA keeps serving', async () => {
    const dataDir = join(dir, 'restart');
    const server = await startServe(['--data-dir', dataDir, '--workers', '2']);
    const [victim, survivor] = workersServing(server);
    process.kill(Number(victim!.pid), 'SIGKILL');
    const exited = await server.waitForLog((l) => l.event === 'worker-exited');
    assert.equal(exited.worker, victim!.worker);
    assert.equal(exited.signal, 'SIGKILL');
    const restarted = await server.waitForLog((l) => l.event === 'worker-restarted');
    const replacement = server.logs.find((l) => l.msg === 'worker serving' && l.worker === restarted.worker);
    assert.equal(replacement?.grpc, `127.0.0.1:${server.grpcPort}`);
    assert.notEqual(replacement?.worker, survivor!.worker);

    await issueOnEachConnection(server, dataDir, 4);
    const metrics = await get(server.monitoringPort!, '/metrics');
    assert.equal(metricValue(metrics.text, 'meshca_worker_restarts_total'), 1);
    assert.deepEqual(await get(server.monitoringPort!, '/readyz'), { status: 200, text: 'ready\n' });
    assert.equal(await server.stop(), 0);
    assert.equal(alive(Number(survivor!.pid)), false);
    assert.equal(alive(Number(replacement!.pid)), false);
  });

  test('--config: the mesh configuration (Maps included) reaches every worker and is watched there', async () => {
    const config = join(dir, 'mesh-config');
    await mkdir(config, { recursive: true });
    await writeFile(
      join(config, 'mesh.yaml'),
      `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: {name: foopc, namespace: foo}
spec:
  environmentVariables:
    ISTIO_META_CERT_SIGNER: clusterissuers.cert-manager.io/foo
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: finance, namespace: foo}
spec:
  selector: {matchLabels: {app: finance}}
  mtls: {mode: STRICT}
  portLevelMtls:
    8080: {mode: DISABLE}
`,
    );
    const dataDir = join(dir, 'with-config');
    const server = await startServe(['--data-dir', dataDir, '--config', config, '--workers', '2']);
    assert.equal(workersServing(server).length, 2);
    await issueOnEachConnection(server, dataDir, 2);
    server.child.kill('SIGHUP');
    for (const w of workersServing(server))
      await server.waitForLog((l) => l.event === 'config-reloaded' && l.worker === w.worker);
    assert.equal(await server.stop(), 0);
  });

  test('problems are reported once, before serving: a bad --workers, a bad bundle', async () => {
    const bad = await runMeshca(['serve', '--workers', 'many', '--listen', '127.0.0.1:0'], {
      env: { MESHCA_DATA_DIR: join(dir, 'bad') },
    });
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--workers: "many" is not a number of workers; use a whole number from 1 to 256, or auto/,
    );
    const fromEnv = await runMeshca(['serve', '--listen', '127.0.0.1:0'], {
      env: { MESHCA_DATA_DIR: join(dir, 'bad'), MESHCA_WORKERS: '0' },
    });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /MESHCA_WORKERS: "0" is not a number of workers/);

    const certs = join(dir, 'partial-certs');
    assert.equal((await runMeshca(['certs', 'root-ca', '--dir', certs])).code, 0);
    assert.equal(
      (await runMeshca(['certs', 'intermediate', 'partial', '--dir', certs, '--csr-only'])).code,
      0,
    );
    const refused = await runMeshca([
      'serve',
      '--workers',
      '2',
      '--cacerts',
      join(certs, 'partial'),
      '--listen',
      '127.0.0.1:0',
      '--monitoring',
      'off',
      '--data-dir',
      join(dir, 'partial-data'),
    ]);
    assert.equal(refused.code, 3);
    const reports = refused.stderr.match(
      /is incomplete: missing ca-cert.pem, cert-chain.pem, root-cert.pem/g,
    );
    assert.equal(reports?.length, 1, `reported once:\n${refused.stderr}`);
    assert.ok(!refused.stderr.includes('meshca CA serving'));
  });
});
