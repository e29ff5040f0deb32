// pkcs11js is an optional dependency: an install without it (the built CLI beside a node_modules
// that holds every package but pkcs11js) still serves with file keys, and refuses a pkcs11: key
// with a message that says what to install.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_DIR } from '../support/cli.js';
import { runMeshca } from '../support/meshca-process.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

describe('meshca installed without pkcs11js', () => {
  let tmp: TempDir;
  let install: string;
  const meshca = (args: string[]) =>
    spawnSync(process.execPath, [join(install, 'bin', 'meshca.js'), ...args], {
      cwd: tmp.path,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 60_000,
    });

  before(async () => {
    // Make sure the build is there (runMeshca says how to make it when it is not).
    await runMeshca(['--help']);
    tmp = makeTempDir('meshca-no-pkcs11js-');
    install = tmp.file('install');
    mkdirSync(install);
    // Copies, not links: Node resolves a linked file's packages from where the link points.
    for (const part of ['package.json', 'bin', 'dist', 'proto'])
      cpSync(join(REPO_DIR, part), join(install, part), { recursive: true });
    mkdirSync(join(install, 'node_modules'));
    for (const name of readdirSync(join(REPO_DIR, 'node_modules'))) {
      if (name === 'pkcs11js' || name === '.bin') continue;
      symlinkSync(join(REPO_DIR, 'node_modules', name), join(install, 'node_modules', name));
    }
  });
  after(() => tmp?.remove());

  it('makes a root with a key file as ever', () => {
    const r = meshca(['certs', 'root-ca', '--dir', tmp.file('files')]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('refuses a key in a token, saying to install pkcs11js', () => {
    const uri =
      'pkcs11:token=meshca;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/nonexistent/pin';
    const r = meshca(['certs', 'root-ca', '--dir', tmp.file('token'), '--key', uri]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      /^meshca certs: pkcs11:token=meshca;object=root\?module-path=\/usr\/lib\/softhsm\/libsofthsm2\.so&pin-source=file:\/nonexistent\/pin: keys in a PKCS#11 token need the optional package pkcs11js, which is not installed \(Cannot find module 'pkcs11js'.*\); install it beside meshca with "npm install pkcs11js"\n$/,
    );
  });
});
