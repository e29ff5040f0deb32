// A staged root change in the data-directory home, without a server: the plan `meshca rotate`
// writes, what the CA serves in each phase, who is pending, and every refusal with its code.
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertificateAuthority } from '../../src/ca/certificate-authority.js';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT } from '../../src/ca/offline/profile.js';
import { loadBundleFromDir } from '../../src/ca/read-bundle-files.js';
import { activateRotation } from '../../src/ca/rotation/activate-rotation.js';
import { finishRotation } from '../../src/ca/rotation/finish-rotation.js';
import {
  createFileIssuanceRecorder,
  readIssuanceRecords,
} from '../../src/ca/rotation/issuance-record-files.js';
import { createIssuanceRecorder, parseIssuanceRecords } from '../../src/ca/rotation/issuance-records.js';
import { prepareRotation } from '../../src/ca/rotation/prepare-rotation.js';
import { createRotationOverlay } from '../../src/ca/rotation/rotation-overlay.js';
import { readRotationState } from '../../src/ca/rotation/rotation-state.js';
import { assertRejectsCode } from '../support/assert-error.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const HOUR = 3_600_000;

describe('meshca rotate in the data-directory home', () => {
  let tmp: TempDir;
  const hierarchy = async (name: string) => {
    const dir = join(tmp.path, name);
    await makeRootCa({ dir, profile: DEFAULT_ROOT });
    await makeIntermediate({ rootDir: dir, cluster: 'cluster1', profile: DEFAULT_INTERMEDIATE });
    return join(dir, 'cluster1');
  };
  let a: string;
  let b: string;
  let c: string;
  before(async () => {
    tmp = makeTempDir('meshca-rotation-');
    [a, b, c] = await Promise.all([hierarchy('a'), hierarchy('b'), hierarchy('c')]);
  });
  after(() => tmp.remove());

  /** A data directory whose CA (plugged with A) has published A as its trust bundle. */
  const dataDirWithA = (name: string) => {
    const dataDir = join(tmp.path, name);
    cpSync(join(a, 'root-cert.pem'), join(dataDir, 'root-cert.pem'));
    return dataDir;
  };
  const fps = (roots: readonly { fingerprint256: string }[]) => roots.map((r) => r.fingerprint256);

  it('refuses a bundle with the current root, one whose intermediate does not chain to its root, and a data directory without a CA', async () => {
    const dataDir = dataDirWithA('refusals');
    await assertRejectsCode(
      () => prepareRotation({ dataDir, newCacerts: a }),
      'ROTATION_SAME_ROOT',
      'invalid-input',
      /is one the CA already trusts; give a bundle with a new root\. A new intermediate under the same root needs no rotation/,
    );
    const mixed = join(tmp.path, 'mixed');
    cpSync(b, mixed, { recursive: true });
    cpSync(join(c, 'root-cert.pem'), join(mixed, 'root-cert.pem'));
    cpSync(join(c, 'root-cert.pem'), join(mixed, 'cert-chain.pem'));
    await assertRejectsCode(
      () => prepareRotation({ dataDir, newCacerts: mixed }),
      'ROTATION_BUNDLE_INVALID',
      'config',
      new RegExp(`^the new bundle in ${mixed} cannot be used: ${mixed}/ca-cert.pem does not verify through`),
    );
    await assertRejectsCode(
      () => prepareRotation({ dataDir: join(tmp.path, 'empty'), newCacerts: b }),
      'ROTATION_NO_CA',
      'config',
    );
    await assertRejectsCode(
      () => activateRotation({ dataDir, force: false }),
      'ROTATION_NOT_PREPARED',
      'invalid-input',
      'there is no prepared rotation to activate; run "meshca rotate prepare --new-cacerts DIR" first',
    );
    await assertRejectsCode(() => finishRotation({ dataDir }), 'ROTATION_NOT_PREPARED', 'invalid-input');
    assert.equal(await readRotationState(dataDir), undefined, 'nothing was recorded');
  });

  it('A → A+B (A signs) → A+B (B signs) → B, waiting for pending identities and for certificates under A', async () => {
    const dataDir = dataDirWithA('phases');
    const rootA = (await loadBundleFromDir(a)).roots[0]!.fingerprint256;
    const rootB = (await loadBundleFromDir(b)).roots[0]!.fingerprint256;
    const rotation = createRotationOverlay(dataDir);
    const ca = await CertificateAuthority.open({ kind: 'plugged', dir: a }, undefined, rotation.overlay);
    assert.deepEqual(fps(ca.bundle.roots), [rootA]);
    const recorder = await createFileIssuanceRecorder(dataDir);
    const t0 = Date.now();
    // sleep got its certificate before prepare, under A, trusting A alone.
    recorder.record('spiffe://cluster.local/ns/foo/sa/sleep', {
      at: new Date(t0 - HOUR).toISOString(),
      notAfter: new Date(t0 + HOUR).toISOString(),
      trusts: [rootA],
      signedUnder: rootA,
    });
    await recorder.flush();

    const { state } = await prepareRotation({ dataDir, newCacerts: b });
    assert.equal(state.phase, 'prepared');
    await assertRejectsCode(
      () => prepareRotation({ dataDir, newCacerts: b }),
      'ROTATION_IN_PROGRESS',
      'invalid-input',
      /^a rotation is already prepared/,
    );
    await assertRejectsCode(
      () => finishRotation({ dataDir }),
      'ROTATION_NOT_PREPARED',
      'invalid-input',
      /prepared but not activated/,
    );
    assert.equal(await ca.reload(), true);
    assert.deepEqual(fps(ca.bundle.roots), [rootA, rootB], 'trust widens to A + B');
    assert.equal(
      ca.bundle.issuer.certificate.fingerprint256,
      (await loadBundleFromDir(a)).issuer.certificate.fingerprint256,
      "A's intermediate still signs",
    );

    await assertRejectsCode(
      () => activateRotation({ dataDir, force: false }),
      'ROTATION_PENDING',
      'unavailable',
      new RegExp(
        `1 workload identity has not received the new root yet:\\n  spiffe://cluster.local/ns/foo/sa/sleep \\(last certificate .*, valid until ${new Date(t0 + HOUR).toISOString()}\\)\\nthey renew before ${new Date(t0 + HOUR).toISOString()} at the latest`,
      ),
    );
    // sleep renews: still under A, now trusting A + B.
    recorder.record('spiffe://cluster.local/ns/foo/sa/sleep', {
      at: new Date(t0).toISOString(),
      notAfter: new Date(t0 + 2 * HOUR).toISOString(),
      trusts: [rootA, rootB],
      signedUnder: rootA,
    });
    await recorder.flush();
    const { progress } = await activateRotation({ dataDir, force: false });
    assert.deepEqual(
      progress.confirmed.map((x) => x.id),
      ['spiffe://cluster.local/ns/foo/sa/sleep'],
    );
    assert.equal(await ca.reload(), true);
    assert.deepEqual(fps(ca.bundle.roots), [rootA, rootB], 'trust stays A + B');
    assert.equal(
      ca.bundle.issuer.certificate.fingerprint256,
      (await loadBundleFromDir(b)).issuer.certificate.fingerprint256,
      "B's intermediate signs",
    );

    await assertRejectsCode(
      () => finishRotation({ dataDir }),
      'ROTATION_OLD_CERTIFICATES_VALID',
      'unavailable',
      `certificates issued under the old root are valid until ${new Date(t0 + 2 * HOUR).toISOString()}; removing that root now would make workloads refuse them. Run "meshca rotate finish" again after that time`,
    );
    await finishRotation({ dataDir, now: new Date(t0 + 2 * HOUR + 1) });
    assert.equal(await ca.reload(), true);
    assert.deepEqual(fps(ca.bundle.roots), [rootB], 'B alone');
    // The plan survives a restart: a CA opened afresh lands in the same phase.
    const reopened = await CertificateAuthority.open(
      { kind: 'plugged', dir: a },
      undefined,
      createRotationOverlay(dataDir).overlay,
    );
    assert.deepEqual(fps(reopened.bundle.roots), [rootB]);
    await recorder.close();
  });

  it('activate --force goes past pending identities and records who was left behind', async () => {
    const dataDir = dataDirWithA('force');
    const rootA = (await loadBundleFromDir(a)).roots[0]!.fingerprint256;
    const recorder = await createFileIssuanceRecorder(dataDir);
    recorder.record('spiffe://cluster.local/ns/foo/sa/httpbin', {
      at: new Date().toISOString(),
      notAfter: new Date(Date.now() + HOUR).toISOString(),
      trusts: [rootA],
      signedUnder: rootA,
    });
    await recorder.close();
    await prepareRotation({ dataDir, newCacerts: b });
    const { state, progress } = await activateRotation({ dataDir, force: true });
    assert.equal(state.phase, 'activated');
    assert.deepEqual(state.forcedPast, ['spiffe://cluster.local/ns/foo/sa/httpbin']);
    assert.equal(progress.pending.length, 1);
  });

  it('a rotation plan the CA cannot apply refuses the reload and keeps the last good bundle', async () => {
    const dataDir = dataDirWithA('broken-plan');
    const ca = await CertificateAuthority.open(
      { kind: 'plugged', dir: a },
      undefined,
      createRotationOverlay(dataDir).overlay,
    );
    const { state } = await prepareRotation({ dataDir, newCacerts: b });
    writeFileSync(join(dataDir, 'rotation', state.bundleDir, 'ca-key.pem'), 'not a key');
    const before = ca.bundle;
    const failed = new Promise((resolve) => ca.once('reload-failed', resolve));
    assert.equal(await ca.reload(), false);
    await failed;
    assert.equal(ca.bundle, before);
  });
});

describe('issuance records', () => {
  it('several writers (--workers) keep each other’s records, newest per identity', async () => {
    const tmp = makeTempDir('meshca-records-');
    try {
      const one = await createFileIssuanceRecorder(tmp.path, { writer: 'worker-1' });
      const two = await createFileIssuanceRecorder(tmp.path, { writer: 'worker-2' });
      const at = (ms: number) => new Date(Date.now() + ms).toISOString();
      one.record('spiffe://cluster.local/ns/foo/sa/sleep', {
        at: at(0),
        notAfter: at(HOUR),
        trusts: ['A'],
        signedUnder: 'A',
      });
      await one.flush();
      two.record('spiffe://cluster.local/ns/foo/sa/httpbin', {
        at: at(1),
        notAfter: at(2 * HOUR),
        trusts: ['A'],
        signedUnder: 'A',
      });
      two.record('spiffe://cluster.local/ns/foo/sa/sleep', {
        at: at(-HOUR),
        notAfter: at(HOUR / 2),
        trusts: ['A'],
        signedUnder: 'A',
      });
      await two.close();
      await one.close();
      const { identities, latestUnderRoot } = await readIssuanceRecords(tmp.path);
      assert.deepEqual(Object.keys(identities).sort(), [
        'spiffe://cluster.local/ns/foo/sa/httpbin',
        'spiffe://cluster.local/ns/foo/sa/sleep',
      ]);
      assert.ok(
        Date.parse(identities['spiffe://cluster.local/ns/foo/sa/sleep']!.at) > Date.now() - HOUR / 2,
        'the newer sleep record won',
      );
      assert.ok(Date.parse(latestUnderRoot.A!) > Date.now() + HOUR, 'the latest expiry under A is httpbin’s');
    } finally {
      tmp.remove();
    }
  });

  it('workers writing at the same moment lose none of each other’s records (one file per worker)', async () => {
    const tmp = makeTempDir('meshca-records-race-');
    try {
      const workers = await Promise.all(
        [1, 2, 3, 4].map((n) => createFileIssuanceRecorder(tmp.path, { writer: `worker-${n}` })),
      );
      const notAfter = new Date(Date.now() + HOUR).toISOString();
      for (let round = 0; round < 20; round++) {
        for (const [n, w] of workers.entries())
          w.record(`spiffe://cluster.local/ns/foo/sa/w${n}-${round}`, {
            at: new Date().toISOString(),
            notAfter,
            trusts: ['A'],
            signedUnder: 'A',
          });
        // Every worker flushes at once: a shared file read, merged and rewritten would lose the others' round.
        await Promise.all(workers.map((w) => w.flush()));
      }
      await Promise.all(workers.map((w) => w.close()));
      const { identities } = await readIssuanceRecords(tmp.path);
      assert.equal(Object.keys(identities).length, 4 * 20);
      // A restarted worker carries on its own copy.
      const again = await createFileIssuanceRecorder(tmp.path, { writer: 'worker-2' });
      assert.equal(Object.keys(again.current().identities).length, 20);
      await again.close();
    } finally {
      tmp.remove();
    }
  });

  it('a copy kept within a size (a ConfigMap) forgets the longest-quiet identities first', async () => {
    let written = '';
    const recorder = createIssuanceRecorder({
      initial: parseIssuanceRecords(undefined),
      write: async (text) => {
        written = text;
      },
      maxBytes: 20_000,
    });
    const notAfter = new Date(Date.now() + HOUR).toISOString();
    for (let i = 0; i < 200; i++)
      recorder.record(`spiffe://cluster.local/ns/foo/sa/w${i}`, {
        at: new Date(Date.now() + i).toISOString(),
        notAfter,
        trusts: ['A'.repeat(95), 'B'.repeat(95)],
        signedUnder: 'A'.repeat(95),
      });
    await recorder.close();
    assert.ok(written.length <= 20_000, `${written.length} characters`);
    const kept = Object.keys(parseIssuanceRecords(written).identities);
    assert.ok(kept.length > 20 && kept.length < 200, `${kept.length} kept`);
    assert.ok(kept.includes('spiffe://cluster.local/ns/foo/sa/w199'), 'the latest stays');
    assert.ok(!kept.includes('spiffe://cluster.local/ns/foo/sa/w0'), 'the quietest goes');
  });
});
