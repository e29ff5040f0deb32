// writeFileAtomic and createFileExclusive: the file rules state that must survive a crash relies on
// (modes whatever the umask, no temp files left, replace vs create-once).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  createFileExclusive,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  writeFileAtomic,
} from '../../src/lib/atomic-file.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

describe('atomic files', () => {
  let dir: TempDir;
  let umask: number;
  before(() => {
    dir = makeTempDir('meshca-atomic-');
    // A permissive umask must not widen a key file, nor a strict one narrow a certificate.
    umask = process.umask(0o000);
  });
  after(() => {
    process.umask(umask);
    dir?.remove();
  });

  it('writeFileAtomic creates missing directories and sets the mode exactly', async () => {
    await writeFileAtomic(dir.file('a/b/key.pem'), 'secret', PRIVATE_FILE_MODE);
    await writeFileAtomic(dir.file('a/b/cert.pem'), 'public');
    assert.equal(readFileSync(dir.file('a/b/key.pem'), 'utf8'), 'secret');
    assert.equal(statSync(dir.file('a/b/key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(dir.file('a/b/cert.pem')).mode & 0o777, PUBLIC_FILE_MODE);
    process.umask(0o077);
    try {
      await writeFileAtomic(dir.file('a/b/cert2.pem'), 'public');
      assert.equal(statSync(dir.file('a/b/cert2.pem')).mode & 0o777, 0o644);
    } finally {
      process.umask(0o000);
    }
    assert.deepEqual(
      readdirSync(dir.file('a/b')).sort(),
      ['cert.pem', 'cert2.pem', 'key.pem'],
      'no temp files left',
    );
  });

  it('writeFileAtomic replaces a file, and narrows the mode of a key written over a public file', async () => {
    writeFileSync(dir.file('replace.pem'), 'old', { mode: 0o666 });
    await writeFileAtomic(dir.file('replace.pem'), Buffer.from('new'), PRIVATE_FILE_MODE);
    assert.equal(readFileSync(dir.file('replace.pem'), 'utf8'), 'new');
    assert.equal(statSync(dir.file('replace.pem')).mode & 0o777, 0o600);
  });

  it('writeFileAtomic replaces a symlink with a file instead of writing through it', async () => {
    writeFileSync(dir.file('target.pem'), 'target');
    symlinkSync(dir.file('target.pem'), dir.file('link.pem'));
    await writeFileAtomic(dir.file('link.pem'), 'own');
    assert.equal(readFileSync(dir.file('target.pem'), 'utf8'), 'target');
    assert.equal(readFileSync(dir.file('link.pem'), 'utf8'), 'own');
  });

  it('createFileExclusive writes once; a second writer gets false and changes nothing', async () => {
    const path = dir.file('once/root.pem');
    assert.equal(await createFileExclusive(path, 'first', PRIVATE_FILE_MODE), true);
    assert.equal(await createFileExclusive(path, 'second'), false);
    assert.equal(readFileSync(path, 'utf8'), 'first');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const racers = await Promise.all(
      ['a', 'b', 'c', 'd'].map((w) => createFileExclusive(dir.file('once/race.pem'), w)),
    );
    assert.equal(racers.filter(Boolean).length, 1);
    const winner = ['a', 'b', 'c', 'd'][racers.indexOf(true)];
    assert.equal(readFileSync(dir.file('once/race.pem'), 'utf8'), winner);
    assert.deepEqual(readdirSync(dir.file('once')).sort(), ['race.pem', 'root.pem'], 'no temp files left');
  });
});
