// A full disk (or a used-up quota) is the operator's to fix, not a bug: every atomic write turns
// ENOSPC and EDQUOT into a 'config' error (exit 3) saying where, and leaves no temp file behind.
// The writes run against a real full file system: a 64 KiB tmpfs filled to the brim.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_ROOT } from '../../src/ca/offline/profile.js';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import { exitCodeFor } from '../../src/cli/main.js';
import { configError, isMeshcaError } from '../../src/errors.js';
import { loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { createFileExclusive, PRIVATE_FILE_MODE, writeFileAtomic } from '../../src/lib/atomic-file.js';
import { DISK_FULL_CODE, diskFullError } from '../../src/lib/disk-full.js';
import { type FullFileSystem, mountFullFileSystem } from '../support/full-file-system.js';

const errno = (code: string) => Object.assign(new Error(`${code}: something, write`), { code });

const noSpace = (where: string) =>
  `no space left on ${where}: the file system is full (ENOSPC); free some space there or use another directory, then run meshca again`;

function assertNoSpace(where: string) {
  return (err: unknown) => {
    assert.ok(isMeshcaError(err), String((err as Error)?.stack ?? err));
    assert.equal(err.code, DISK_FULL_CODE);
    assert.equal(err.kind, 'config');
    assert.equal(err.message, noSpace(where));
    return true;
  };
}

describe('diskFullError', () => {
  it('maps ENOSPC and EDQUOT to a config error (exit 3) naming the path', () => {
    assert.equal(DISK_FULL_CODE, 'FS_NO_SPACE');
    const full = diskFullError(errno('ENOSPC'), '/srv/meshca/ca/ca-key.pem');
    assert.ok(full);
    assert.equal(full.code, 'FS_NO_SPACE');
    assert.equal(full.kind, 'config');
    assert.equal(exitCodeFor(full.kind), 3);
    assert.equal(full.message, noSpace('/srv/meshca/ca/ca-key.pem'));
    assert.equal((full.cause as NodeJS.ErrnoException).code, 'ENOSPC');
    const quota = diskFullError(errno('EDQUOT'), '/home/op/.meshca/issuer/key.pem');
    assert.equal(
      quota?.message,
      "no space left on /home/op/.meshca/issuer/key.pem: this user's disk quota is used up (EDQUOT); free some space or raise the quota, then run meshca again",
    );
    assert.equal(quota?.kind, 'config');
  });

  it('leaves every other failure alone, and re-names an already mapped one', () => {
    assert.equal(diskFullError(errno('EACCES'), '/x'), undefined);
    assert.equal(diskFullError(new Error('plain'), '/x'), undefined);
    assert.equal(diskFullError(undefined, '/x'), undefined);
    assert.equal(diskFullError(configError('CA_BUNDLE_INVALID', 'no'), '/x'), undefined);
    const inner = diskFullError(errno('ENOSPC'), '/d/.ca.1-a1b2c3d4e5f6.tmp/ca-key.pem');
    const outer = diskFullError(inner, '/d/ca');
    assert.equal(outer?.message, noSpace('/d/ca'));
    assert.equal((outer?.cause as NodeJS.ErrnoException).code, 'ENOSPC');
  });
});

describe('writes on a full file system', () => {
  let fs: FullFileSystem;
  let full: string;
  before(() => {
    fs = mountFullFileSystem('meshca-full-');
    full = fs.path;
  });
  after(() => fs?.remove());

  it('writeFileAtomic and createFileExclusive: FS_NO_SPACE naming the file, no temp file left', async (t) => {
    if (fs.refused) return t.skip(fs.refused);
    const dir = join(full, 'atomic');
    await assert.rejects(
      writeFileAtomic(join(dir, 'ca-key.pem'), 'x'.repeat(8192), PRIVATE_FILE_MODE),
      assertNoSpace(join(dir, 'ca-key.pem')),
    );
    await assert.rejects(
      createFileExclusive(join(dir, 'key.pem'), 'x'.repeat(8192), PRIVATE_FILE_MODE),
      assertNoSpace(join(dir, 'key.pem')),
    );
    assert.deepEqual(readdirSync(dir), [], 'no temp files left');
  });

  it('the self-signed CA names its directory and leaves no temp directory', async (t) => {
    if (fs.refused) return t.skip(fs.refused);
    const data = join(full, 'data');
    await assert.rejects(
      loadOrCreateSelfSignedCa({ dir: join(data, 'ca'), trustDomain: 'td', keyType: 'ec-p256' }),
      assertNoSpace(join(data, 'ca')),
    );
    assert.deepEqual(readdirSync(data), []);
  });

  it('the token issuer and meshca certs root-ca name the key file', async (t) => {
    if (fs.refused) return t.skip(fs.refused);
    const issuer = join(full, 'data2', 'issuer');
    await assert.rejects(loadOrCreateTokenIssuer(issuer), assertNoSpace(join(issuer, 'key.pem')));
    const root = join(full, 'root');
    await assert.rejects(
      makeRootCa({ dir: root, profile: DEFAULT_ROOT }),
      assertNoSpace(join(root, 'root-key.pem')),
    );
    assert.deepEqual(readdirSync(issuer), []);
    assert.deepEqual(readdirSync(root), []);
  });
});
