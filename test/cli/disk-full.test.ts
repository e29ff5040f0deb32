// The real `meshca` on a full file system (a 64 KiB tmpfs filled to the brim, mounted for the
// test; the tests run as root) exits 3, "bad configuration", with "no space left on PATH", never
// 70, "a bug", with a stack trace. Needs `npm run build`.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type FullFileSystem, mountFullFileSystem } from '../support/full-file-system.js';
import { runMeshca } from '../support/meshca-process.js';

const noSpace = (command: string, where: string) =>
  `meshca ${command}: no space left on ${where}: the file system is full (ENOSPC); free some space there or use another directory, then run meshca again\n`;

describe('meshca on a full disk', () => {
  let fs: FullFileSystem;
  let full: string;
  before(() => {
    fs = mountFullFileSystem('meshca-cli-full-');
    full = fs.path;
  });
  after(() => fs?.remove());

  it('serve exits 3 naming the CA directory', async (t) => {
    if (fs.refused) return t.skip(fs.refused);
    const data = join(full, 'serve');
    const r = await runMeshca([
      'serve',
      '--data-dir',
      data,
      '--listen',
      '127.0.0.1:0',
      '--monitoring',
      'off',
    ]);
    assert.equal(r.stderr, noSpace('serve', join(data, 'ca')));
    assert.equal(r.code, 3);
    assert.deepEqual(readdirSync(data), [], 'no temp directory left');
  });

  it('token exits 3 naming the issuer key', async (t) => {
    if (fs.refused) return t.skip(fs.refused);
    const data = join(full, 'token');
    const r = await runMeshca(['token', '-n', 'foo', '--service-account', 'sleep', '--data-dir', data]);
    assert.equal(r.stderr, noSpace('token', join(data, 'issuer', 'key.pem')));
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
  });

  it('certs root-ca exits 3 naming the root key', async (t) => {
    if (fs.refused) return t.skip(fs.refused);
    const dir = join(full, 'root');
    const r = await runMeshca(['certs', 'root-ca', '-d', dir]);
    assert.equal(r.stderr, noSpace('certs', join(dir, 'root-key.pem')));
    assert.equal(r.code, 3);
    assert.deepEqual(readdirSync(dir), []);
  });
});
