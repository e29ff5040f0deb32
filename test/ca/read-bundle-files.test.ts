// loadBundleFromDir: the two directory layouts operators have (Istio's cacerts and
// kubernetes.io/tls), and every way a bundle is refused, each with its code and exact message.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { makeWorkload } from '../../src/ca/offline/make-workload.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT, DEFAULT_WORKLOAD } from '../../src/ca/offline/profile.js';
import { detectLayout, loadBundleFromDir } from '../../src/ca/read-bundle-files.js';
import { EXPIRY_WARNING_DAYS } from '../../src/ca/signing-bundle.js';
import { isMeshcaError, type MeshcaError } from '../../src/errors.js';
import { createIntermediateCertificate } from '../../src/pki/create-intermediate-certificate.js';
import { encodePrivateKeyPem, generateKey, keyFromPrivateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const DAY_MS = 86_400_000;

/** A validator for assert.rejects: the MeshcaError with this code and exactly this message. */
function meshcaError(code: string, message: string, kind?: MeshcaError['kind']) {
  return (err: unknown) => {
    assert.ok(isMeshcaError(err), `a MeshcaError, got ${err}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    if (kind) assert.equal(err.kind, kind);
    return true;
  };
}

describe('loadBundleFromDir', () => {
  let tmp: TempDir;
  /** <tmp>/root: root-cert.pem, root-key.pem; <tmp>/root/c1: a cacerts bundle; <tmp>/root/c2: another. */
  let rootDir: string;
  let c1: string;
  let c2: string;
  let n = 0;
  const read = (path: string) => readFileSync(path, 'utf8');
  /** A new directory holding `files` (name → content). */
  const dirWith = (files: Record<string, string>): string => {
    const dir = join(tmp.path, `case-${++n}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return dir;
  };
  const cacerts = (from: string) => ({
    'ca-cert.pem': read(join(from, 'ca-cert.pem')),
    'ca-key.pem': read(join(from, 'ca-key.pem')),
    'cert-chain.pem': read(join(from, 'cert-chain.pem')),
    'root-cert.pem': read(join(from, 'root-cert.pem')),
  });

  before(async () => {
    tmp = makeTempDir('meshca-bundle-');
    rootDir = join(tmp.path, 'root');
    await makeRootCa({ dir: rootDir, profile: DEFAULT_ROOT, now: NOW });
    await makeIntermediate({ rootDir, cluster: 'c1', profile: DEFAULT_INTERMEDIATE, now: NOW });
    await makeIntermediate({ rootDir, cluster: 'c2', profile: DEFAULT_INTERMEDIATE, now: NOW });
    c1 = join(rootDir, 'c1');
    c2 = join(rootDir, 'c2');
  });
  after(() => tmp?.remove());

  it("accepts Istio's cacerts layout and freezes the bundle", async () => {
    const b = await loadBundleFromDir(c1, { now: NOW });
    assert.equal(b.source, 'plugged-istio');
    assert.equal(b.dir, c1);
    assert.equal(b.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=c1');
    assert.deepEqual(b.chainPems, [read(join(c1, 'ca-cert.pem'))]);
    assert.deepEqual(
      b.roots.map((r) => r.subject),
      ['O=Istio, CN=Root CA'],
    );
    assert.equal(b.rootsPem, read(join(rootDir, 'root-cert.pem')));
    assert.deepEqual(b.warnings, []);
    assert.ok(Object.isFrozen(b));
    assert.ok(Object.isFrozen(b.chainPems));
    assert.ok(Object.isFrozen(b.issuer));
    assert.equal(await detectLayout(c1), 'istio');
  });

  it('accepts the kubernetes.io/tls layout (tls.crt, tls.key, ca.crt)', async () => {
    const dir = dirWith({
      'tls.crt': read(join(c1, 'ca-cert.pem')),
      'tls.key': read(join(c1, 'ca-key.pem')),
      'ca.crt': read(join(rootDir, 'root-cert.pem')),
    });
    const b = await loadBundleFromDir(dir, { now: NOW });
    assert.equal(b.source, 'plugged-tls');
    assert.equal(b.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=c1');
    assert.equal(b.rootsPem, read(join(rootDir, 'root-cert.pem')));
  });

  it('tls layout: intermediates may follow in tls.crt or sit in ca.crt beside the root (cert-manager)', async () => {
    // Three levels: root → mid (pathlen:1) → sub (pathlen:0), sub signing.
    const rootIssuer = {
      certificate: parseCertificate(read(join(rootDir, 'root-cert.pem'))),
      key: keyFromPrivateKey(readPrivateKey(read(join(rootDir, 'root-key.pem')))),
    };
    const midKey = await generateKey('ec-p256');
    const mid = await createIntermediateCertificate({
      subjectPublicKey: midKey,
      subject: { O: 'Istio', CN: 'Mid CA' },
      issuer: rootIssuer,
      days: 365,
      pathLen: 1,
      now: NOW,
    });
    const subKey = await generateKey('ec-p256');
    const sub = await createIntermediateCertificate({
      subjectPublicKey: subKey,
      subject: { O: 'Istio', CN: 'Sub CA' },
      issuer: { certificate: mid, key: keyFromPrivateKey(midKey) },
      days: 365,
      now: NOW,
    });
    const rootPem = read(join(rootDir, 'root-cert.pem'));
    const inTlsCrt = dirWith({
      'tls.crt': sub.pem + mid.pem + rootPem,
      'tls.key': encodePrivateKeyPem(subKey),
      'ca.crt': rootPem,
    });
    const a = await loadBundleFromDir(inTlsCrt, { now: NOW });
    assert.equal(a.issuer.certificate.subject, 'O=Istio, CN=Sub CA');
    assert.deepEqual(a.chainPems, [sub.pem, mid.pem], 'the root in tls.crt is not part of the chain');
    assert.equal(a.rootsPem, rootPem);
    const inCaCrt = dirWith({
      'tls.crt': sub.pem,
      'tls.key': encodePrivateKeyPem(subKey),
      'ca.crt': mid.pem + rootPem,
    });
    const b = await loadBundleFromDir(inCaCrt, { now: NOW });
    assert.deepEqual(b.chainPems, [sub.pem, mid.pem]);
    assert.deepEqual(
      b.roots.map((r) => r.subject),
      ['O=Istio, CN=Root CA'],
      'only the self-signed certificate of ca.crt is a root',
    );
    assert.equal(b.rootsPem, rootPem);
  });

  it('tls.crt wins when it exists beside Istio files', async () => {
    const dir = dirWith({
      ...cacerts(c1),
      'tls.crt': read(join(c2, 'ca-cert.pem')),
      'tls.key': read(join(c2, 'ca-key.pem')),
      'ca.crt': read(join(rootDir, 'root-cert.pem')),
    });
    assert.equal(await detectLayout(dir), 'tls');
    const b = await loadBundleFromDir(dir, { now: NOW });
    assert.equal(b.source, 'plugged-tls');
    assert.equal(b.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=c2');
  });

  it('an empty cert-chain.pem is allowed when ca-cert.pem is the root itself', async () => {
    const rootPem = read(join(rootDir, 'root-cert.pem'));
    const dir = dirWith({
      'ca-cert.pem': rootPem,
      'ca-key.pem': read(join(rootDir, 'root-key.pem')),
      'cert-chain.pem': '',
      'root-cert.pem': rootPem,
    });
    const b = await loadBundleFromDir(dir, { now: NOW });
    assert.equal(b.issuer.certificate.subject, 'O=Istio, CN=Root CA');
    assert.deepEqual(b.chainPems, []);
    assert.equal(b.rootsPem, rootPem);
    // Whitespace only counts as empty too.
    const spaced = dirWith({ ...cacerts(c1), 'cert-chain.pem': '\n\n' });
    assert.deepEqual((await loadBundleFromDir(spaced, { now: NOW })).chainPems, [
      read(join(c1, 'ca-cert.pem')),
    ]);
  });

  it('a partial bundle is CA_BUNDLE_INCOMPLETE, naming every missing file', async () => {
    const partial = dirWith({
      'ca-cert.pem': read(join(c1, 'ca-cert.pem')),
      'ca-key.pem': read(join(c1, 'ca-key.pem')),
    });
    await assert.rejects(
      loadBundleFromDir(partial),
      meshcaError(
        'CA_BUNDLE_INCOMPLETE',
        `CA bundle in ${partial} is incomplete: missing cert-chain.pem, root-cert.pem; a cacerts bundle needs ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem`,
        'config',
      ),
    );
    const empty = dirWith({});
    await assert.rejects(
      loadBundleFromDir(empty),
      meshcaError(
        'CA_BUNDLE_INCOMPLETE',
        `CA bundle in ${empty} is incomplete: missing ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem; a cacerts bundle needs ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem`,
      ),
    );
    const tls = dirWith({ 'tls.crt': read(join(c1, 'ca-cert.pem')) });
    await assert.rejects(
      loadBundleFromDir(tls),
      meshcaError(
        'CA_BUNDLE_INCOMPLETE',
        `CA bundle in ${tls} is incomplete: missing tls.key, ca.crt; a kubernetes.io/tls bundle needs tls.crt, tls.key, ca.crt`,
      ),
    );
  });

  it('garbage in a file is CA_BUNDLE_INVALID with a message naming that file', async () => {
    const noPem = (path: string) =>
      `${path}: no PEM block found (expected "-----BEGIN …-----"); check that this is a PEM file and not DER or an empty file`;
    const badCert = dirWith({ ...cacerts(c1), 'ca-cert.pem': 'this is not a certificate\n' });
    await assert.rejects(
      loadBundleFromDir(badCert),
      meshcaError(
        'CA_BUNDLE_INVALID',
        `${noPem(join(badCert, 'ca-cert.pem'))}; replace ${join(badCert, 'ca-cert.pem')} with PEM certificates`,
        'config',
      ),
    );
    const badRoots = dirWith({ ...cacerts(c1), 'root-cert.pem': 'garbage' });
    await assert.rejects(
      loadBundleFromDir(badRoots),
      meshcaError(
        'CA_BUNDLE_INVALID',
        `${noPem(join(badRoots, 'root-cert.pem'))}; replace ${join(badRoots, 'root-cert.pem')} with PEM certificates`,
      ),
    );
    const badKey = dirWith({ ...cacerts(c1), 'ca-key.pem': 'garbage' });
    await assert.rejects(
      loadBundleFromDir(badKey),
      meshcaError('CA_BUNDLE_INVALID', noPem(join(badKey, 'ca-key.pem'))),
    );
    // A PEM certificate block whose body is not base64.
    const damaged = dirWith({
      ...cacerts(c1),
      'cert-chain.pem': '-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n',
    });
    await assert.rejects(loadBundleFromDir(damaged), (err: unknown) => {
      assert.ok(isMeshcaError(err));
      assert.equal(err.code, 'CA_BUNDLE_INVALID');
      assert.ok(err.message.startsWith(`${join(damaged, 'cert-chain.pem')}: `), err.message);
      return true;
    });
  });

  it('root-cert.pem with two roots (rotation overlap) is accepted, in order', async () => {
    const otherRoot = join(tmp.path, 'other-root');
    await makeRootCa({ dir: otherRoot, profile: DEFAULT_ROOT, now: NOW });
    const both = read(join(otherRoot, 'root-cert.pem')) + read(join(rootDir, 'root-cert.pem'));
    const dir = dirWith({ ...cacerts(c1), 'root-cert.pem': both });
    const b = await loadBundleFromDir(dir, { now: NOW });
    assert.equal(b.roots.length, 2);
    assert.equal(b.rootsPem, both);
    assert.deepEqual(b.chainPems, [read(join(c1, 'ca-cert.pem'))]);
    // Both roots share a name: the one that signed is found by its key.
    assert.equal(b.roots[0]!.subject, b.roots[1]!.subject);
  });

  it(`a signing certificate expiring within ${EXPIRY_WARNING_DAYS} days loads, with a warning`, async () => {
    const short = join(tmp.path, 'short');
    mkdirSync(short);
    copyFileSync(join(rootDir, 'root-cert.pem'), join(short, 'root-cert.pem'));
    copyFileSync(join(rootDir, 'root-key.pem'), join(short, 'root-key.pem'));
    await makeIntermediate({
      rootDir: short,
      cluster: 'c1',
      profile: { ...DEFAULT_INTERMEDIATE, days: 40 },
      now: NOW,
    });
    const dir = join(short, 'c1');
    // 40 days before expiry there is nothing to say.
    assert.deepEqual((await loadBundleFromDir(dir, { now: NOW })).warnings, []);
    const later = new Date(NOW.getTime() + 30 * DAY_MS);
    const b = await loadBundleFromDir(dir, { now: later });
    assert.deepEqual(b.warnings, [
      `the signing certificate "O=Istio, CN=Intermediate CA, L=c1" in ${dir}/ca-cert.pem expires in 10.0 days (2030-07-11T00:00:00.000Z); plug in a new intermediate soon`,
    ]);
  });

  it('an expired signing certificate is CA_EXPIRED, a configuration error (exit 3)', async () => {
    await assert.rejects(
      loadBundleFromDir(c1, { now: new Date('2041-01-01T00:00:00Z') }),
      meshcaError(
        'CA_EXPIRED',
        // 3650 days after NOW, three leap days included.
        `${c1}/ca-cert.pem: the signing certificate "O=Istio, CN=Intermediate CA, L=c1" expired at 2040-05-29T00:00:00.000Z; issue a new intermediate (meshca certs intermediate) and plug it in`,
        'config',
      ),
    );
  });

  it('a key that does not belong to ca-cert.pem is CA_KEY_MISMATCH', async () => {
    const dir = dirWith({ ...cacerts(c1), 'ca-key.pem': read(join(c2, 'ca-key.pem')) });
    await assert.rejects(
      loadBundleFromDir(dir, { now: NOW }),
      meshcaError(
        'CA_KEY_MISMATCH',
        `${dir}/ca-key.pem: key does not match certificate ${dir}/ca-cert.pem ("O=Istio, CN=Intermediate CA, L=c1"); put the key that belongs to this certificate there, or the certificate that belongs to this key`,
        'config',
      ),
    );
  });

  it('a workload certificate in ca-cert.pem is CA_NOT_A_CA', async () => {
    await makeWorkload({
      rootDir,
      namespace: 'c1',
      profile: DEFAULT_WORKLOAD,
      intermediate: DEFAULT_INTERMEDIATE,
      now: NOW,
    });
    const dir = dirWith({
      'ca-cert.pem': read(join(c1, 'workload-cert.pem')),
      'ca-key.pem': read(join(c1, 'key.pem')),
      'cert-chain.pem': read(join(c1, 'cert-chain.pem')),
      'root-cert.pem': read(join(rootDir, 'root-cert.pem')),
    });
    await assert.rejects(
      loadBundleFromDir(dir, { now: NOW }),
      meshcaError(
        'CA_NOT_A_CA',
        `${dir}/ca-cert.pem: "" is not a CA certificate (basicConstraints CA:TRUE is missing), so it may not sign; use an intermediate CA certificate such as "meshca certs intermediate" makes`,
      ),
    );
  });

  it('roots that did not issue the chain are CA_CHAIN_INVALID, naming the files', async () => {
    const otherRoot = join(tmp.path, 'stranger');
    await makeRootCa({
      dir: otherRoot,
      profile: { ...DEFAULT_ROOT, subject: { O: 'Other', CN: 'Root CA' } },
      now: NOW,
    });
    const strangerPem = read(join(otherRoot, 'root-cert.pem'));
    const why = (dir: string, reason: string) =>
      `${dir}/ca-cert.pem does not verify through ${dir}/cert-chain.pem to a root in ${dir}/root-cert.pem: ${reason}`;
    // cert-chain.pem still ends in the old root, which is no longer trusted.
    const withOldRoot = dirWith({ ...cacerts(c1), 'root-cert.pem': strangerPem });
    await assert.rejects(
      loadBundleFromDir(withOldRoot, { now: NOW }),
      meshcaError(
        'CA_CHAIN_INVALID',
        why(
          withOldRoot,
          '"O=Istio, CN=Root CA" is self-signed but is not one of the trusted roots; add it to the roots if it should be trusted',
        ),
        'config',
      ),
    );
    const bare = dirWith({ ...cacerts(c1), 'cert-chain.pem': '', 'root-cert.pem': strangerPem });
    await assert.rejects(
      loadBundleFromDir(bare, { now: NOW }),
      meshcaError(
        'CA_CHAIN_INVALID',
        why(
          bare,
          'no issuer found for "O=Istio, CN=Intermediate CA, L=c1" (issuer "O=Istio, CN=Root CA"): the chain is missing an intermediate',
        ),
      ),
    );
  });
});
