// CertificateAuthority in service: reloads swap the bundle only when the new one verifies, a bad
// reload keeps the last good bundle, and watch() follows a mounted secret's `..data` symlink swap.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CaEvents, CertificateAuthority } from '../../src/ca/certificate-authority.js';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT } from '../../src/ca/offline/profile.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const FILES = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'] as const;
type Bundle = Record<(typeof FILES)[number], string>;

/** Records every event a CA emits, in order. */
function record(ca: CertificateAuthority) {
  const events: Array<
    { type: 'bundle'; e: CaEvents['bundle'][0] } | { type: 'reload-failed'; e: CaEvents['reload-failed'][0] }
  > = [];
  ca.on('bundle', (e) => events.push({ type: 'bundle', e }));
  ca.on('reload-failed', (e) => events.push({ type: 'reload-failed', e }));
  return events;
}

/**
 * The next `name` event. The watcher neither keeps the process alive (a server does that), so the
 * timer here does; its deadline only stops a broken watcher from hanging the run and asserts
 * nothing about time.
 */
async function next<K extends keyof CaEvents>(ca: CertificateAuthority, name: K): Promise<CaEvents[K][0]> {
  const ac = new AbortController();
  const deadline = setTimeout(() => ac.abort(new Error(`no "${name}" event within 30 s`)), 30_000);
  try {
    const [event] = (await once(ca, name, { signal: ac.signal })) as CaEvents[K];
    return event;
  } finally {
    clearTimeout(deadline);
  }
}

describe('CertificateAuthority', () => {
  let tmp: TempDir;
  let a: Bundle;
  let b: Bundle;
  /** An intermediate under a different root. */
  let other: Bundle;
  let n = 0;

  const readBundle = (dir: string): Bundle =>
    Object.fromEntries(FILES.map((f) => [f, readFileSync(join(dir, f), 'utf8')])) as Bundle;
  const write = (dir: string, bundle: Partial<Bundle>) => {
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(bundle)) writeFileSync(join(dir, name), content);
  };

  before(async () => {
    tmp = makeTempDir('meshca-authority-');
    const root = tmp.file('root');
    await makeRootCa({ dir: root, profile: DEFAULT_ROOT });
    await makeIntermediate({ rootDir: root, cluster: 'a', profile: DEFAULT_INTERMEDIATE });
    await makeIntermediate({ rootDir: root, cluster: 'b', profile: DEFAULT_INTERMEDIATE });
    const root2 = tmp.file('root2');
    await makeRootCa({ dir: root2, profile: DEFAULT_ROOT });
    await makeIntermediate({ rootDir: root2, cluster: 'other', profile: DEFAULT_INTERMEDIATE });
    a = readBundle(join(root, 'a'));
    b = readBundle(join(root, 'b'));
    other = readBundle(join(root2, 'other'));
  });
  after(() => tmp?.remove());

  it('reload: good → bad (reload-failed, old bundle kept) → good (bundle event, new intermediate)', async () => {
    const dir = tmp.file(`plugged-${++n}`);
    write(dir, a);
    const ca = await CertificateAuthority.open({ kind: 'plugged', dir });
    const events = record(ca);
    const first = ca.bundle;
    assert.equal(ca.created, false);
    assert.equal(first.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=a');

    assert.equal(await ca.reload(), false, 'nothing changed');
    assert.equal(events.length, 0);

    write(dir, { 'ca-key.pem': b['ca-key.pem'] });
    assert.equal(await ca.reload(), false);
    assert.equal(events.length, 1);
    const failed = events[0]!;
    assert.equal(failed.type, 'reload-failed');
    assert.equal(failed.type === 'reload-failed' && failed.e.dir, dir);
    assert.equal(failed.type === 'reload-failed' && failed.e.error.code, 'CA_KEY_MISMATCH');
    assert.equal(ca.bundle, first, 'the last good bundle keeps serving');

    write(dir, b);
    assert.equal(await ca.reload(), true);
    assert.equal(events.length, 2);
    const swapped = events[1]!;
    assert.equal(swapped.type, 'bundle');
    if (swapped.type !== 'bundle') return;
    assert.equal(swapped.e.bundle.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=b');
    assert.equal(swapped.e.previous, first);
    assert.equal(swapped.e.rootChanged, false);
    assert.equal(ca.bundle, swapped.e.bundle);
    ca.close();
  });

  it('reload: a new root is reported as rootChanged', async () => {
    const dir = tmp.file(`plugged-${++n}`);
    write(dir, a);
    const ca = await CertificateAuthority.open({ kind: 'plugged', dir });
    const events = record(ca);
    write(dir, other);
    assert.equal(await ca.reload(), true);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.ok(e.type === 'bundle' && e.e.rootChanged);
    assert.equal(ca.bundle.rootsPem, other['root-cert.pem']);
  });

  it('reloads run one at a time: a burst ends with the last bundle in service', async () => {
    const dir = tmp.file(`plugged-${++n}`);
    write(dir, a);
    const ca = await CertificateAuthority.open({ kind: 'plugged', dir });
    write(dir, b);
    const results = await Promise.all([ca.reload(), ca.reload(), ca.reload()]);
    assert.deepEqual(results, [true, false, false]);
    assert.equal(ca.bundle.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=b');
  });

  it('open refuses a directory that is not a usable bundle', async () => {
    const dir = tmp.file(`plugged-${++n}`);
    write(dir, { 'ca-cert.pem': a['ca-cert.pem'] });
    await assert.rejects(CertificateAuthority.open({ kind: 'plugged', dir }), {
      code: 'CA_BUNDLE_INCOMPLETE',
    });
  });

  it('self-signed mode creates its root on the first open and keeps it', async () => {
    const dir = tmp.file('data/ca');
    const mode = { kind: 'self-signed', dir, trustDomain: 'cluster.local', keyType: 'ec-p256' } as const;
    const first = await CertificateAuthority.open(mode);
    assert.equal(first.created, true);
    assert.equal(first.bundle.source, 'self-signed');
    const second = await CertificateAuthority.open(mode);
    assert.equal(second.created, false);
    assert.equal(second.bundle.fingerprint, first.bundle.fingerprint);
    assert.equal(await second.reload(), false);
  });

  it('watch() picks up a Kubernetes-style `..data` symlink swap, and survives a bad one', async () => {
    // A mounted secret: the files are symlinks through ..data to a timestamped directory, and an
    // update writes a new directory and renames a new ..data link over the old one.
    const dir = tmp.file('mounted');
    mkdirSync(dir);
    let version = 0;
    const publish = (bundle: Bundle) => {
      const target = `..2030_01_01_00_00_0${++version}`;
      write(join(dir, target), bundle);
      symlinkSync(target, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      if (version > 1) rmSync(join(dir, `..2030_01_01_00_00_0${version - 1}`), { recursive: true });
    };
    publish(a);
    for (const f of FILES) symlinkSync(join('..data', f), join(dir, f));

    const ca = await CertificateAuthority.open({ kind: 'plugged', dir });
    assert.equal(ca.bundle.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=a');
    const first = ca.bundle;
    ca.watch({ debounceMs: 20, pollMs: 2_000 });
    try {
      const failed = next(ca, 'reload-failed');
      publish({ ...b, 'ca-key.pem': other['ca-key.pem'] });
      const f = await failed;
      assert.equal(f.error.code, 'CA_KEY_MISMATCH');
      assert.equal(ca.bundle, first);

      const swapped = next(ca, 'bundle');
      publish(b);
      const e = await swapped;
      assert.equal(e.bundle.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=b');
      assert.equal(e.previous, first);
      assert.equal(ca.bundle, e.bundle);
    } finally {
      ca.close();
    }
  });
});
