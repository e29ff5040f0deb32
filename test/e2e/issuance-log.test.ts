// The issuance log with the real `meshca serve`: certificates issued over gRPC+TLS are listed,
// shown and verified by `meshca log`; under load, kill -9 loses none that a client received; a torn
// tail is kept aside and reported (log line, metric, verify); tampering makes verify exit 1.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCaClient } from '../../src/agent/ca-client.js';
import { workloadCsr } from '../support/ca-server-fixture.js';
import { runMeshca, startServe } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshca-e2e-log-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function token(dataDir: string, namespace: string, serviceAccount: string): Promise<string> {
  const r = await runMeshca([
    'token',
    '--data-dir',
    dataDir,
    '-n',
    namespace,
    '--service-account',
    serviceAccount,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
const log = (dataDir: string, ...args: string[]) => runMeshca(['log', ...args, '--data-dir', dataDir]);

describe('meshca log against meshca serve', () => {
  test('issue, list, show, checkpoint, verify; a changed entry or a forged checkpoint fails verify', async () => {
    const dataDir = join(root, 'basic');
    const server = await startServe(['--data-dir', dataDir]);
    const rootsPem = await readFile(join(dataDir, 'root-cert.pem'), 'utf8');
    const client = createCaClient({ address: `127.0.0.1:${server.grpcPort}`, rootsPem });
    const issued: Record<string, string> = {};
    for (const sa of ['sleep', 'httpbin']) {
      const { csrPem } = await workloadCsr('foo', sa);
      const chain = await client.createCertificate({ csrPem, token: await token(dataDir, 'foo', sa) });
      issued[sa] = chain[0]!;
    }
    client.close();

    const listed = await log(dataDir, 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split('\n');
    assert.equal(rows[0], 'TIME\tSERIAL\tSIGNER\tIDENTITY\tREQUESTER');
    assert.equal(rows.length, 4, "the server's own certificate and the two workloads'");
    assert.match(rows[1]!, /\tmeshca\/local\tistiod\.istio-system\.svc,.*\tself:serving-certificate$/);
    const sleepOnly = await log(
      dataDir,
      'list',
      '--spiffe-id',
      'spiffe://cluster.local/ns/foo/sa/sleep',
      '--since',
      '1h',
    );
    assert.deepEqual(
      sleepOnly.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((r) => r.split('\t').slice(1)),
      [
        [
          serialOf(issued.sleep!),
          'meshca/local',
          'spiffe://cluster.local/ns/foo/sa/sleep',
          'token:system:serviceaccount:foo:sleep',
        ],
      ],
    );
    assert.equal(
      (await log(dataDir, 'list', '--signer', 'nobody')).stdout,
      'TIME\tSERIAL\tSIGNER\tIDENTITY\tREQUESTER\n',
    );

    const cert = new X509Certificate(issued.httpbin!);
    const shown = await log(dataDir, 'show', cert.serialNumber);
    assert.equal(shown.code, 0, shown.stderr);
    const entry = JSON.parse(shown.stdout);
    assert.equal(entry.spiffeId, 'spiffe://cluster.local/ns/foo/sa/httpbin');
    assert.equal(entry.certSha256, createHash('sha256').update(cert.raw).digest('hex'));
    assert.equal(
      entry.spkiSha256,
      createHash('sha256')
        .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
    );
    assert.equal(entry.notAfter, new Date(cert.validTo).toISOString());
    assert.deepEqual(entry.requester, {
      via: 'token',
      issuer: entry.requester.issuer,
      subject: 'system:serviceaccount:foo:httpbin',
    });
    assert.ok(server.logs.some((l) => l.msg === 'certificate issued' && l.requestId === entry.requestId));

    const missing = await log(dataDir, 'show', 'abcdef');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /meshca log: no certificate with serial abcdef is in the issuance log/);

    assert.equal(await server.stop('SIGTERM'), 0);
    const checkpoint = await log(dataDir, 'checkpoint');
    assert.equal(checkpoint.code, 0, checkpoint.stderr);
    assert.equal(JSON.parse(checkpoint.stdout).size, 3, 'the closing checkpoint covers all three');
    const kept = join(root, 'basic-checkpoint.json');
    await writeFile(kept, checkpoint.stdout);
    const verified = await log(dataDir, 'verify', '--checkpoint', kept);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(
      verified.stdout,
      /: 3 entries \(seq 0…2\) in 1 segments, 1 checkpoints, head [0-9a-f]{64}\n/,
    );

    const forged = join(root, 'forged.json');
    await writeFile(forged, JSON.stringify({ ...JSON.parse(checkpoint.stdout), size: 2 }));
    const refused = await log(dataDir, 'verify', '--checkpoint', forged);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /checkpoint .*forged\.json: the signature is not the log key's/);
    const notACheckpoint = await log(dataDir, 'verify', '--checkpoint', join(dataDir, 'root-cert.pem'));
    assert.equal(notACheckpoint.code, 2);
    assert.match(notACheckpoint.stderr, /root-cert\.pem is not a checkpoint/);

    const segment = join(dataDir, 'log', 'segment-000001.jsonl');
    await writeFile(segment, (await readFile(segment, 'utf8')).replace('foo/sa/sleep', 'foo/sa/sleeq'));
    const tampered = await log(dataDir, 'verify', '--checkpoint', kept);
    assert.equal(tampered.code, 1);
    assert.match(
      tampered.stdout,
      /FAILED: segment-000001\.jsonl line 2: seq 1 does not match its hash \(the entry was changed\)/,
    );
    assert.match(tampered.stderr, /^meshca log: the issuance log fails verification \(1 problem\)/);
  });

  test('kill -9 under load: every certificate a client received is in the log, and a torn tail is kept and reported', async () => {
    const dataDir = join(root, 'kill');
    const server = await startServe(['--data-dir', dataDir]);
    const rootsPem = await readFile(join(dataDir, 'root-cert.pem'), 'utf8');
    const jwt = await token(dataDir, 'load', 'client');
    const { csrPem } = await workloadCsr('load', 'client');
    const received: string[] = [];
    let killed = false;
    // Eight connections, 16 calls in flight on each, until the server is gone.
    const workers = Array.from({ length: 8 }, async () => {
      const client = createCaClient({ address: `127.0.0.1:${server.grpcPort}`, rootsPem });
      const lane = async () => {
        while (!killed) {
          try {
            const chain = await client.createCertificate({ csrPem, token: jwt, deadlineMs: 10_000 });
            received.push(chain[0]!);
          } catch {
            return; // the server died with this call in flight: nothing was handed out
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, lane));
      client.close();
    });
    await waitFor('400 certificates received under load', () => received.length >= 400);
    server.child.kill('SIGKILL');
    killed = true;
    await server.stop();
    await Promise.all(workers);

    const listed = await log(dataDir, 'list', '--spiffe-id', 'spiffe://cluster.local/ns/load/sa/client');
    assert.equal(listed.code, 0, listed.stderr);
    const logged = new Set(
      listed.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((r) => r.split('\t')[1]),
    );
    const lost = received.map(serialOf).filter((s) => !logged.has(s));
    assert.deepEqual(
      lost,
      [],
      `${lost.length} of ${received.length} received certificates are not in the log`,
    );
    const verified = await log(dataDir, 'verify');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);

    // A crash in the middle of a write leaves half a line: the next start keeps it aside and says so.
    const logDir = join(dataDir, 'log');
    const last = (await readdir(logDir))
      .filter((f) => /^segment-\d+\.jsonl$/.test(f))
      .sort()
      .at(-1)!;
    await appendFile(join(logDir, last), '{"certSha256":"12');
    const again = await startServe(['--data-dir', dataDir]);
    const damaged = await again.waitForLog((l) => l.event === 'issuance-log-damaged');
    assert.equal(damaged.damagedBytes, 17);
    const metrics = await fetch(`http://127.0.0.1:${again.monitoringPort}/metrics`).then((r) => r.text());
    assert.match(metrics, /^meshca_issuance_log_damaged_total 1$/m);
    const client = createCaClient({ address: `127.0.0.1:${again.grpcPort}`, rootsPem });
    const after = (await client.createCertificate({ csrPem, token: jwt }))[0]!;
    client.close();
    assert.equal(await again.stop('SIGTERM'), 0);
    const report = await log(dataDir, 'verify');
    assert.equal(report.code, 0, report.stdout + report.stderr);
    assert.match(report.stdout, /break at seq \d+: 17 unreadable bytes kept in segment-\d+\.damaged\.jsonl/);
    assert.equal((await log(dataDir, 'show', serialOf(after))).code, 0);
  });

  test('--workers 2: each worker keeps its own chain, and meshca log reads them all', async () => {
    const dataDir = join(root, 'workers');
    const server = await startServe(['--data-dir', dataDir, '--workers', '2']);
    const rootsPem = await readFile(join(dataDir, 'root-cert.pem'), 'utf8');
    const jwt = await token(dataDir, 'foo', 'sleep');
    const serials: string[] = [];
    // Separate connections, so that both workers are likely to serve some; the log holds each either way.
    for (let i = 0; i < 6; i++) {
      const client = createCaClient({ address: `127.0.0.1:${server.grpcPort}`, rootsPem });
      const { csrPem } = await workloadCsr('foo', 'sleep');
      serials.push(serialOf((await client.createCertificate({ csrPem, token: jwt }))[0]!));
      client.close();
    }
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.deepEqual((await readdir(join(dataDir, 'log'))).sort(), ['worker-1', 'worker-2']);
    const verified = await log(dataDir, 'verify');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /log\/worker-1: .* 1 checkpoints/);
    assert.match(verified.stdout, /log\/worker-2: .* 1 checkpoints/);
    const listed = await log(dataDir, 'list', '--spiffe-id', 'spiffe://cluster.local/ns/foo/sa/sleep');
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((r) => r.split('\t')[1])
        .sort(),
      [...serials].sort(),
    );
    assert.equal(
      (await log(dataDir, 'checkpoint')).stdout.trim().split('\n').length,
      2,
      'one checkpoint per chain',
    );
  });

  test('--issuance-log off keeps no log', async () => {
    const dataDir = join(root, 'off');
    const server = await startServe(['--data-dir', dataDir, '--issuance-log', 'off']);
    assert.equal(await server.stop(), 0);
    assert.ok(!(await readdir(dataDir)).includes('log'));
    const r = await log(dataDir, 'verify');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /there is no issuance log in .*\/off\/log/);
  });
});
