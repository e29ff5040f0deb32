// The `meshca` entry point as a process: help, version, and exit code 2 for what it does not know.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_DIR } from '../support/cli.js';
import { runMeshca } from '../support/meshca-process.js';

describe('meshca', () => {
  it('--help lists every command and exits 0', async () => {
    const r = await runMeshca(['--help']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^meshca — a certificate authority for service meshes, compatible with Istio\n/);
    assert.match(r.stdout, /Usage: meshca <command> \[options\]/);
    for (const command of ['serve', 'certs', 'token', 'root-cert', 'csr']) {
      assert.match(r.stdout, new RegExp(`\\n  ${command} +\\S`), `${command} is listed`);
    }
  });

  it('without a command prints the usage and exits 2', async () => {
    const r = await runMeshca([]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /Usage: meshca <command>/);
  });

  it('refuses an unknown command with exit 2, naming it, and shows the usage on stderr', async () => {
    const r = await runMeshca(['frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^meshca: unknown command "frobnicate"\n\n/);
    assert.match(r.stderr, /Commands:\n/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { version: string };
    const r = await runMeshca(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `meshca ${pkg.version}\n`);
  });
});

describe('meshca certs --help', () => {
  it('describes the targets, the Makefile variables and the options, exit 0', async () => {
    const r = await runMeshca(['certs', '--help']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^meshca certs — make and check an offline CA hierarchy/);
    assert.match(
      r.stdout,
      /Usage: meshca certs <root-ca \| intermediate NAME \| NAME-cacerts \| workload NS/,
    );
    for (const flag of [
      '--key-type',
      '--force',
      '--csr-only',
      '--rootca-days',
      '--intermediate-san-dns',
      '--service-account',
    ]) {
      assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
    }
    assert.match(
      r.stdout,
      /Each variable may also be given as an environment variable or as VAR=value, like make\./,
    );
  });

  it('has help for inspect and verify too', async () => {
    const inspect = await runMeshca(['certs', 'inspect', '--help']);
    assert.equal(inspect.code, 0);
    assert.match(inspect.stdout, /^meshca certs inspect — /);
    const verify = await runMeshca(['certs', 'verify', '-h']);
    assert.equal(verify.code, 0);
    assert.match(
      verify.stdout,
      /Usage: meshca certs verify --root ROOTS\.pem \[--chain CHAIN\.pem\] \[--key KEY\.pem\] CERT\.pem/,
    );
  });

  it('refuses an unknown flag or target with exit 2 and says where help is', async () => {
    const flag = await runMeshca(['certs', 'root-ca', '--no-such-flag']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^meshca certs: Unknown option '--no-such-flag'/);
    assert.match(flag.stderr, /\(see "meshca certs --help"\)\n$/);
    const target = await runMeshca(['certs', 'bogus']);
    assert.equal(target.code, 2);
    assert.match(target.stderr, /unknown target "bogus"\n\(see "meshca certs --help"\)\n$/);
    const none = await runMeshca(['certs']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /name what to make: root-ca, intermediate NAME, NAME-cacerts/);
  });
});
