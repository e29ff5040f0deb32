// Run under `umask 000`, the real `meshca` still makes its data directory, ca/, issuer/ and the
// `meshca certs` output folders 0700 and its keys 0600: mkdir's mode is masked by the umask, so
// meshca sets the mode itself. Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_DIR } from '../support/cli.js';
import { MESHCA_BIN } from '../support/meshca-process.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `sh -c 'umask 000; exec node bin/meshca.js ARGS…'`; with `until`, sends SIGTERM once stderr
 * matches it (for `serve`).
 */
function meshcaUnderUmask000(args: string[], until?: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, MESHCA_BIN, ...args], {
      cwd: REPO_DIR,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (until?.test(stderr)) child.kill('SIGTERM');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('meshca under umask 000', () => {
  let tmp: TempDir;
  before(() => {
    tmp = makeTempDir('meshca-umask-');
  });
  after(() => tmp?.remove());

  it('the shell really runs meshca with umask 000', async () => {
    const r = await new Promise<string>((resolve) => {
      const c = spawn('sh', [
        '-c',
        'umask 000; exec "$0" -e "process.stdout.write(String(process.umask()))"',
        process.execPath,
      ]);
      let out = '';
      c.stdout.on('data', (d) => {
        out += d;
      });
      c.on('close', () => resolve(out));
    });
    assert.equal(r, '0');
  });

  it('serve: the data directory, ca/ and issuer/ are 0700, the keys 0600', async () => {
    const data = tmp.file('serve/.meshca');
    const r = await meshcaUnderUmask000(
      ['serve', '--data-dir', data, '--listen', '127.0.0.1:0', '--monitoring', 'off'],
      /meshca CA serving/,
    );
    // Stopped as soon as it serves, maybe before its signal handlers are in place: the exit code says nothing.
    assert.match(r.stderr, /meshca CA serving/);
    assert.deepEqual(
      {
        parent: modeOf(tmp.file('serve')),
        data: modeOf(data),
        ca: modeOf(join(data, 'ca')),
        caKey: modeOf(join(data, 'ca', 'ca-key.pem')),
        caCert: modeOf(join(data, 'ca', 'ca-cert.pem')),
        issuer: modeOf(join(data, 'issuer')),
        issuerKey: modeOf(join(data, 'issuer', 'key.pem')),
        jwks: modeOf(join(data, 'issuer', 'jwks.json')),
      },
      {
        parent: '0700',
        data: '0700',
        ca: '0700',
        caKey: '0600',
        caCert: '0644',
        issuer: '0700',
        issuerKey: '0600',
        jwks: '0644',
      },
    );
  });

  it('token: the data directory and issuer/ are 0700', async () => {
    const data = tmp.file('token-data');
    const r = await meshcaUnderUmask000([
      'token',
      '-n',
      'foo',
      '--service-account',
      'sleep',
      '--data-dir',
      data,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(modeOf(data), '0700');
    assert.equal(modeOf(join(data, 'issuer')), '0700');
    assert.equal(modeOf(join(data, 'issuer', 'key.pem')), '0600');
  });

  it('certs: the root folder and the cluster and namespace folders are 0700', async () => {
    const root = tmp.file('certs/root');
    for (const args of [
      ['root-ca'],
      ['cluster1-cacerts'],
      ['foo-certs'],
      ['intermediate', 'west', '--csr-only'],
    ]) {
      const r = await meshcaUnderUmask000(['certs', ...args, '-d', root]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(
      ['certs', 'certs/root', 'certs/root/cluster1', 'certs/root/foo', 'certs/root/west'].map((d) => [
        d,
        modeOf(tmp.file(d)),
      ]),
      [
        ['certs', '0700'],
        ['certs/root', '0700'],
        ['certs/root/cluster1', '0700'],
        ['certs/root/foo', '0700'],
        ['certs/root/west', '0700'],
      ],
    );
    for (const key of [
      'root-key.pem',
      'cluster1/ca-key.pem',
      'foo/ca-key.pem',
      'foo/key.pem',
      'west/ca-key.pem',
    ])
      assert.equal(modeOf(join(root, key)), '0600', key);
  });
});
