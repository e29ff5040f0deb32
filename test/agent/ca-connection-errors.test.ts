// When no connection to the CA can be made, `meshca csr` (and the agent) say what to check: nothing
// listening, a --ca-root the CA's certificate does not chain to, a name the certificate lacks;
// never grpc-js's bare "No connection established … Resolution note:".
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explainConnectionFailure } from '../../src/agent/ca-client.js';
import { runMeshca, type ServeProcess, startServe } from '../support/meshca-process.js';

describe('connection failures to the CA', () => {
  let dir: string;
  let ca: ServeProcess;
  let rootFile: string;
  let tokenFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshca-ca-conn-'));
    ca = await startServe(['--data-dir', join(dir, 'data')]);
    rootFile = join(dir, 'root.pem');
    tokenFile = join(dir, 'sleep.jwt');
    await writeFile(rootFile, (await runMeshca(['root-cert', '--data-dir', join(dir, 'data')])).stdout);
    await writeFile(
      tokenFile,
      (await runMeshca(['token', '-n', 'foo', '--service-account', 'sleep', '--data-dir', join(dir, 'data')]))
        .stdout,
    );
  });
  after(async () => {
    await ca?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const csr = (caAddr: string, caRoot = rootFile) =>
    runMeshca(
      [
        'csr',
        '-n',
        'foo',
        '--service-account',
        'sleep',
        '--token-file',
        tokenFile,
        '--ca-root',
        caRoot,
      ].concat(['--out-dir', join(dir, 'out'), '--ca-addr', caAddr]),
    );

  test('nothing listening: says so and names the address', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await csr(`127.0.0.1:${port}`);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`cannot connect to the CA at 127\\.0\\.0\\.1:${port}: nothing listens there`),
    );
    assert.doesNotMatch(r.stderr, /Resolution note/);
  });

  test("a --ca-root the CA's certificate does not chain to", async () => {
    const other = join(dir, 'other');
    assert.equal((await runMeshca(['certs', 'root-ca', '--dir', other])).code, 0);
    const r = await csr(`127.0.0.1:${ca.grpcPort}`, join(other, 'root-cert.pem'));
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /the CA's certificate does not chain to --ca-root \(.+\); get the CA's roots with "meshca root-cert"/,
    );
    assert.doesNotMatch(r.stderr, /Resolution note/);
  });

  test('a name the certificate lacks, and other failures, are explained', () => {
    const grpc = (last: string) => `No connection established. Last error: Error: ${last}. Resolution note: `;
    assert.match(
      explainConnectionFailure(
        grpc(
          "Hostname/IP does not match certificate's altnames: Host: ca.example. is not in the cert's altnames",
        ),
        'ca.example:15012',
        'ca.example',
      )!,
      /the name ca\.example is not in the CA's certificate .*start the CA with --host ca\.example/,
    );
    assert.match(
      explainConnectionFailure(grpc('getaddrinfo ENOTFOUND nowhere.invalid'), 'nowhere.invalid:15012', 'x')!,
      /the name nowhere\.invalid does not resolve/,
    );
    assert.equal(explainConnectionFailure('Deadline exceeded', 'x:1', 'x'), undefined);
  });
});
