// `meshca serve` as a user runs it: a real process, its data directory, signals and exit codes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCaClient } from '../../src/agent/ca-client.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import { workloadCsr } from '../support/ca-server-fixture.js';
import { runMeshca, startServe } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

describe('meshca serve (embedded default)', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meshca-e2e-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('two servers started together on one data dir agree on one root, kept across restarts', async () => {
    // One writer per issuance log: the second server keeps its own (a shared one is refused, LOG_LOCKED).
    const [a, b] = await Promise.all([
      startServe(['--data-dir', dataDir]),
      startServe(['--data-dir', dataDir, '--issuance-log-dir', join(dataDir, 'log-b')]),
    ]);
    const createdBy = [a, b].filter((p) => p.logs.some((l) => l.msg === 'created self-signed root CA'));
    assert.equal(createdBy.length, 1, 'exactly one process created the root');
    const root = await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
    assert.equal(((await stat(join(dataDir, 'ca', 'ca-key.pem'))).mode & 0o777).toString(8), '600');
    for (const server of [a, b]) {
      const { csrPem } = await workloadCsr('foo', 'sleep');
      const token = (
        await runMeshca(['token', '--data-dir', dataDir, '-n', 'foo', '--service-account', 'sleep'])
      ).stdout.trim();
      const client = createCaClient({ address: `127.0.0.1:${server.grpcPort}`, rootsPem: root });
      const chain = await client.createCertificate({ csrPem, token });
      client.close();
      assert.equal(chain.at(-1), root);
    }
    assert.equal(await a.stop('SIGTERM'), 0, 'SIGTERM drains and exits 0');
    assert.equal(await b.stop('SIGINT'), 0);
    const again = await startServe(['--data-dir', dataDir]);
    assert.ok(again.logs.some((l) => l.msg === 'loaded CA bundle'));
    assert.equal(await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8'), root);
    const printed = await runMeshca(['root-cert', '--data-dir', dataDir]);
    assert.equal(printed.code, 0);
    assert.equal(printed.stdout, root);
    assert.equal(await again.stop(), 0);
  });

  test('SIGHUP reloads a plugged-in bundle; a bad --cacerts is a startup error naming the files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-e2e-hup-'));
    try {
      assert.equal((await runMeshca(['certs', 'root-ca', '--dir', dir])).code, 0);
      assert.equal((await runMeshca(['certs', 'cluster1-cacerts', '--dir', dir])).code, 0);
      const partial = join(dir, 'partial');
      assert.equal(
        (await runMeshca(['certs', 'intermediate', 'partial', '--dir', dir, '--csr-only'])).code,
        0,
      );
      const refused = await runMeshca([
        'serve',
        '--cacerts',
        partial,
        '--listen',
        '127.0.0.1:0',
        '--monitoring',
        'off',
        '--data-dir',
        join(dir, 'data'),
      ]);
      assert.equal(refused.code, 3);
      assert.match(
        refused.stderr,
        /CA bundle in .*partial is incomplete: missing ca-cert.pem, cert-chain.pem, root-cert.pem/,
      );
      assert.ok(!refused.stderr.includes('    at '), 'no stack trace for an expected error');

      const server = await startServe(['--cacerts', join(dir, 'cluster1'), '--data-dir', join(dir, 'data')]);
      const serial = parseCertificates(await readFile(join(dir, 'cluster1', 'ca-cert.pem'), 'utf8'))[0]!
        .serialHex;
      assert.equal((await runMeshca(['certs', 'cluster1-cacerts', '--dir', dir, '--force'])).code, 0);
      server.child.kill('SIGHUP');
      const reloaded = await server.waitForLog((l) => l.event === 'ca-reloaded');
      assert.equal(reloaded.previousSerial, serial);
      assert.equal(reloaded.rootChanged, false);
      const done = await server.waitForLog((l) => l.event === 'sighup-done');
      assert.equal(done.changed, true, 'the result of SIGHUP is logged');
      assert.equal(await server.stop(), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('meshca root-cert prints what a running serve --cacerts hands out, and follows a new root', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-e2e-roots-'));
    try {
      assert.equal((await runMeshca(['certs', 'root-ca', '--dir', dir])).code, 0);
      assert.equal((await runMeshca(['certs', 'cluster1-cacerts', '--dir', dir])).code, 0);
      const data = join(dir, 'data');
      const server = await startServe(['--cacerts', join(dir, 'cluster1'), '--data-dir', data]);
      try {
        // README: `meshca root-cert > root-cert.pem`, with only the data directory to go by.
        const printed = await runMeshca(['root-cert', '--data-dir', data]);
        assert.equal(printed.code, 0, printed.stderr);
        assert.equal(printed.stdout, await readFile(join(dir, 'cluster1', 'root-cert.pem'), 'utf8'));

        const other = join(dir, 'other');
        assert.equal((await runMeshca(['certs', 'root-ca', '--dir', other])).code, 0);
        assert.equal((await runMeshca(['certs', 'intermediate', 'cluster1', '--dir', other])).code, 0);
        for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'])
          await copyFile(join(other, 'cluster1', f), join(dir, 'cluster1', f));
        server.child.kill('SIGHUP');
        await server.waitForLog((l) => l.event === 'root-changed');
        const newRoot = await readFile(join(other, 'root-cert.pem'), 'utf8');
        await waitFor('root-cert to print the new root', async () =>
          (await runMeshca(['root-cert', '--data-dir', data])).stdout === newRoot ? true : undefined,
        );
      } finally {
        await server.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a taken monitoring or gRPC port: exit 1 naming the address, before any file is made', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), 'meshca-e2e-port-'));
    try {
      for (const [flag, other] of [
        ['--monitoring', '--listen'],
        ['--listen', '--monitoring'],
      ] as const) {
        const data = join(dir, flag.slice(2));
        const r = await runMeshca([
          'serve',
          '--data-dir',
          data,
          flag,
          `127.0.0.1:${taken}`,
          other,
          '127.0.0.1:0',
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `cannot listen on 127\\.0\\.0\\.1:${taken} \\(${flag}\\): another process is listening there; pick another ${flag} address`,
          ),
        );
        assert.ok(!r.stderr.includes('    at '), 'no stack trace');
        assert.equal(existsSync(data), false, `${flag}: no data directory was created`);
      }
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('settings problems are reported together, with exit code 2', async () => {
    const result = await runMeshca(
      ['serve', '--listen', 'nonsense', '--workload-cert-ttl', 'forever', '--ca-key-type', 'dsa'],
      {
        env: { MESHCA_DATA_DIR: dataDir },
      },
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /3 problems/);
    assert.match(result.stderr, /--listen: "nonsense" is not host:port/);
    assert.match(result.stderr, /--workload-cert-ttl: "forever" is not a duration/);
    assert.match(result.stderr, /--ca-key-type: unknown key type "dsa"/);
  });
});
