// Everyday path mistakes get exit 2 or 3 and a message naming the path and what to do, never exit 70
// ("a bug") with a stack trace, and never a hang: a missing or wrong-type --token-file / --ca-root,
// an output directory that cannot be made (under a file, under /proc).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runMeshca, type ServeProcess, startServe } from '../support/meshca-process.js';

describe('path mistakes on the command line', () => {
  let dir: string;
  let ca: ServeProcess;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshca-paths-'));
    ca = await startServe(['--data-dir', join(dir, 'data')]);
    await writeFile(
      join(dir, 'root.pem'),
      (await runMeshca(['root-cert', '--data-dir', join(dir, 'data')])).stdout,
    );
    await writeFile(
      join(dir, 't.jwt'),
      (await runMeshca(['token', '-n', 'foo', '--service-account', 'sleep', '--data-dir', join(dir, 'data')]))
        .stdout,
    );
  });
  after(async () => {
    await ca?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const csr = (tokenFile: string, caRoot: string, outDir: string) =>
    runMeshca(
      ['csr', '-n', 'foo', '--service-account', 'sleep', '--ca-addr', `127.0.0.1:${ca.grpcPort}`].concat([
        '--token-file',
        tokenFile,
        '--ca-root',
        caRoot,
        '--out-dir',
        outDir,
      ]),
      { cwd: dir },
    );

  const cases: [string, () => Promise<{ code: number | null; stderr: string }>, number, RegExp][] = [
    [
      'missing --token-file',
      () => csr('missing.jwt', 'root.pem', 'o'),
      2,
      /--token-file \S+missing\.jwt does not exist; write one with "meshca token/,
    ],
    [
      '--token-file is a directory',
      () => csr('/etc', 'root.pem', 'o'),
      2,
      /--token-file \/etc is a directory, not a file/,
    ],
    [
      'missing --ca-root',
      () => csr('t.jwt', 'missing.pem', 'o'),
      2,
      /--ca-root \S+missing\.pem does not exist; get the roots with "meshca root-cert/,
    ],
    [
      '--ca-root is not PEM',
      () => csr('t.jwt', 't.jwt', 'o'),
      2,
      /--ca-root \S+t\.jwt holds no PEM certificate/,
    ],
    [
      '--out-dir under a file',
      () => csr('t.jwt', 'root.pem', '/etc/passwd/sub'),
      3,
      /\/etc\/passwd\/sub has a part that is a file, not a directory/,
    ],
    [
      '--out-dir under /proc',
      () => csr('t.jwt', 'root.pem', '/proc/x/'),
      3,
      /\/proc\/x cannot be created there/,
    ],
    [
      'agent --once --output-dir under a file',
      () =>
        runMeshca(
          [
            'agent',
            '--once',
            '--ca-addr',
            `127.0.0.1:${ca.grpcPort}`,
            '--token-file',
            't.jwt',
            '--ca-root',
            'root.pem',
          ].concat(['--output-dir', '/etc/passwd/sub']),
          { cwd: dir },
        ),
      3,
      /\/etc\/passwd\/sub has a part that is a file, not a directory/,
    ],
    [
      'serve --cacerts that does not exist',
      () =>
        runMeshca(['serve', '--cacerts', 'nowhere', '--listen', '127.0.0.1:0', '--monitoring', 'off'], {
          cwd: dir,
        }),
      3,
      /--cacerts \S+nowhere does not exist; make one with "meshca certs cluster1-cacerts"/,
    ],
    [
      'serve --cacerts naming a file',
      () =>
        runMeshca(['serve', '--cacerts', 'root.pem', '--listen', '127.0.0.1:0', '--monitoring', 'off'], {
          cwd: dir,
        }),
      3,
      /--cacerts \S+root\.pem is a file; give the directory that holds ca-cert\.pem/,
    ],
  ];
  for (const [name, run, code, message] of cases) {
    test(`${name}: exit ${code}, names the path`, async () => {
      const r = await run();
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /a bug| {4}at /);
    });
  }
});
