// Directories that hold keys or tokens are 0700 whatever the umask: every directory meshca makes
// for its state, its offline hierarchy or its temporary writes goes through one helper.
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { makeWorkload } from '../../src/ca/offline/make-workload.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT, DEFAULT_WORKLOAD } from '../../src/ca/offline/profile.js';
import { signIntermediate } from '../../src/ca/offline/sign-intermediate.js';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import { loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../../src/lib/atomic-file.js';
import { makePrivateDirectory, PRIVATE_DIRECTORY_MODE } from '../../src/lib/make-private-directory.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('directories meshca makes are 0700 whatever the umask', () => {
  let tmp: TempDir;
  let umask: number;
  before(() => {
    tmp = makeTempDir('meshca-dirs-');
    // The umask under which mkdir's default mode comes out 0777.
    umask = process.umask(0o000);
  });
  after(() => {
    process.umask(umask);
    tmp?.remove();
  });

  it('makePrivateDirectory makes every missing level 0700 and leaves existing ones alone', async () => {
    mkdirSync(tmp.file('mine'), { mode: 0o755 });
    const deep = tmp.file('mine/a/b/c');
    assert.deepEqual(await makePrivateDirectory(deep), [
      tmp.file('mine/a'),
      tmp.file('mine/a/b'),
      tmp.file('mine/a/b/c'),
    ]);
    assert.equal(PRIVATE_DIRECTORY_MODE, 0o700);
    for (const d of ['mine/a', 'mine/a/b', 'mine/a/b/c']) assert.equal(modeOf(tmp.file(d)), 0o700, d);
    assert.equal(modeOf(tmp.file('mine')), 0o755, 'an existing directory is not changed');
    assert.deepEqual(await makePrivateDirectory(deep), [], 'nothing to make the second time');
    // A umask that narrows (here: no write bit for the owner) must not either.
    process.umask(0o277);
    try {
      await makePrivateDirectory(tmp.file('narrow/x'));
    } finally {
      process.umask(0o000);
    }
    assert.equal(modeOf(tmp.file('narrow')), 0o700);
    assert.equal(modeOf(tmp.file('narrow/x')), 0o700);
  });

  it('writeFileAtomic makes a missing directory 0700 for a private file, 0755 for a public one', async () => {
    await writeFileAtomic(tmp.file('atomic-private/k/key.pem'), 'secret', PRIVATE_FILE_MODE);
    await writeFileAtomic(tmp.file('atomic-public/c/cert.pem'), 'public');
    assert.equal(modeOf(tmp.file('atomic-private')), 0o700);
    assert.equal(modeOf(tmp.file('atomic-private/k')), 0o700);
    assert.equal(modeOf(tmp.file('atomic-private/k/key.pem')), 0o600);
    assert.equal(modeOf(tmp.file('atomic-public')), 0o755);
    assert.equal(modeOf(tmp.file('atomic-public/c')), 0o755);
  });

  it('the self-signed CA: the data directory and ca/ are 0700, the key 0600', async () => {
    const data = tmp.file('serve/.meshca');
    const dir = join(data, 'ca');
    const r = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local', keyType: 'ec-p256' });
    assert.equal(r.created, true);
    assert.equal(modeOf(tmp.file('serve')), 0o700);
    assert.equal(modeOf(data), 0o700);
    assert.equal(modeOf(dir), 0o700);
    assert.equal(modeOf(join(dir, 'ca-key.pem')), 0o600);
  });

  it('the token issuer: the data directory and issuer/ are 0700, the key 0600', async () => {
    const data = tmp.file('token/.meshca');
    await loadOrCreateTokenIssuer(join(data, 'issuer'));
    assert.equal(modeOf(data), 0o700);
    assert.equal(modeOf(join(data, 'issuer')), 0o700);
    assert.equal(modeOf(join(data, 'issuer', 'key.pem')), 0o600);
    assert.equal(modeOf(join(data, 'issuer', 'jwks.json')), 0o644);
  });

  it('meshca certs: the root, intermediate, CSR-only, signed-out and workload folders are 0700', async () => {
    const root = tmp.file('offline/root');
    await makeRootCa({ dir: root, profile: DEFAULT_ROOT });
    assert.equal(modeOf(tmp.file('offline')), 0o700);
    assert.equal(modeOf(root), 0o700);
    assert.equal(modeOf(join(root, 'root-key.pem')), 0o600);

    await makeIntermediate({ rootDir: root, cluster: 'cluster1', profile: DEFAULT_INTERMEDIATE });
    assert.equal(modeOf(join(root, 'cluster1')), 0o700);
    assert.equal(modeOf(join(root, 'cluster1', 'ca-key.pem')), 0o600);

    await makeIntermediate({ rootDir: root, cluster: 'west', profile: DEFAULT_INTERMEDIATE, csrOnly: true });
    assert.equal(modeOf(join(root, 'west')), 0o700);

    // The folder sign-intermediate writes to receives the key next, by hand.
    const out = join(root, 'signed', 'west');
    await signIntermediate({
      rootCert: join(root, 'root-cert.pem'),
      rootKey: join(root, 'root-key.pem'),
      csr: join(root, 'west', 'cluster-ca.csr'),
      outDir: out,
      profile: DEFAULT_INTERMEDIATE,
    });
    assert.equal(modeOf(join(root, 'signed')), 0o700);
    assert.equal(modeOf(out), 0o700);

    await makeWorkload({
      rootDir: root,
      namespace: 'foo',
      profile: DEFAULT_WORKLOAD,
      intermediate: DEFAULT_INTERMEDIATE,
    });
    assert.equal(modeOf(join(root, 'foo')), 0o700);
    assert.equal(modeOf(join(root, 'foo', 'key.pem')), 0o600);
  });

  it('the current directory, when meshca certs writes into it, keeps its mode', async () => {
    mkdirSync(tmp.file('cwd'), { mode: 0o755 });
    await makeRootCa({ dir: tmp.file('cwd'), profile: DEFAULT_ROOT });
    assert.equal(modeOf(tmp.file('cwd')), 0o755);
  });
});
