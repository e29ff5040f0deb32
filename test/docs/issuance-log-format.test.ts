// The README documents the issuance log's format well enough to verify a log without meshca: a small
// verifier written from the README alone (Python's standard library and openssl for Ed25519,
// issuance-log-verifier/verify_log.py) accepts a real log that `meshca serve` wrote, finds in it the
// certificates clients received, and rejects a changed entry, a cut-off end and a forged checkpoint.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCaClient } from '../../src/agent/ca-client.js';
import { workloadCsr } from '../support/ca-server-fixture.js';
import { runMeshcaOk, startServe } from '../support/meshca-process.js';

const VERIFIER = fileURLToPath(new URL('./issuance-log-verifier/verify_log.py', import.meta.url));

function verify(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('python3', [VERIFIER, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

let root: string;
let logDir: string;
const certs: string[] = [];
let heldCheckpoint: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshca-log-format-'));
  const dataDir = join(root, 'data');
  logDir = join(dataDir, 'log');
  // Small segments: the verifier must follow the chain across files.
  const server = await startServe(['--data-dir', dataDir, '--issuance-log-segment-size', '1K']);
  const client = createCaClient({
    address: `127.0.0.1:${server.grpcPort}`,
    rootsPem: await readFile(join(dataDir, 'root-cert.pem'), 'utf8'),
  });
  for (const sa of ['sleep', 'httpbin', 'reviews']) {
    const token = (
      await runMeshcaOk(['token', '--data-dir', dataDir, '-n', 'foo', '--service-account', sa])
    ).stdout.trim();
    const { csrPem } = await workloadCsr('foo', sa);
    const leaf = (await client.createCertificate({ csrPem, token }))[0]!;
    const path = join(root, `${sa}.pem`);
    await writeFile(path, leaf);
    certs.push(path);
  }
  client.close();
  assert.equal(await server.stop('SIGTERM'), 0);
  heldCheckpoint = join(root, 'held.json');
  await writeFile(heldCheckpoint, (await runMeshcaOk(['log', 'checkpoint', '--data-dir', dataDir])).stdout);
});
after(() => rm(root, { recursive: true, force: true }));

/** A copy of the log to tamper with. */
async function copyOfLog(name: string): Promise<string> {
  const dir = join(root, name);
  await cp(logDir, dir, { recursive: true });
  return dir;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('segment-')).sort();
}

describe('the issuance log, verified from the README alone', () => {
  test('a real log verifies, and holds every certificate a client received', async () => {
    assert.ok((await segments(logDir)).length > 1, 'the log spans several segments');
    const r = await verify(logDir, '--checkpoint', heldCheckpoint, ...certs.flatMap((c) => ['--cert', c]));
    assert.equal(r.code, 0, r.out);
    const [, entries, head] = r.out.trim().split(' ');
    assert.equal(entries, '4', "the server's own certificate and three workloads'");
    const meshca = await runMeshcaOk(['log', 'verify', '--issuance-log-dir', logDir]);
    assert.ok(meshca.stdout.includes(`head ${head}`), 'meshca log verify reports the same head');
  });

  test('a changed entry fails', async () => {
    const dir = await copyOfLog('changed');
    const last = join(dir, (await segments(dir)).at(-1)!);
    const text = await readFile(last, 'utf8');
    await writeFile(last, text.replace('/sa/reviews', '/sa/ratings'));
    const r = await verify(dir);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /FAILED: seq \d+ does not hash to its hash/);
  });

  test('an entry cut from the end fails against the checkpoint kept elsewhere', async () => {
    const dir = await copyOfLog('truncated');
    const last = join(dir, (await segments(dir)).at(-1)!);
    const lines = (await readFile(last, 'utf8')).split('\n').filter(Boolean);
    await writeFile(
      last,
      lines
        .slice(0, -1)
        .map((l) => `${l}\n`)
        .join(''),
    );
    // The log's own checkpoints are rewritten too: only the held one can tell.
    await writeFile(join(dir, 'checkpoints.jsonl'), '');
    const r = await verify(dir, '--checkpoint', heldCheckpoint);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /FAILED: .*held\.json: the log's entry 3 is not the head it signed/);
  });

  test('a forged checkpoint fails', async () => {
    const forged = JSON.parse(await readFile(heldCheckpoint, 'utf8'));
    forged.size -= 1;
    const path = join(root, 'forged.json');
    await writeFile(path, JSON.stringify(forged));
    const r = await verify(logDir, '--checkpoint', path);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /FAILED: .*forged\.json: the Ed25519 signature does not verify/);
  });
});
