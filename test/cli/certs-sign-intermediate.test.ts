// The split workflow: `meshca certs intermediate NAME --csr-only` where the cluster's key is made,
// `meshca certs sign-intermediate` where the root lives. The root key never moves, and the result
// is a cacerts bundle meshca (and openssl) accept.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBundleFromDir } from '../../src/ca/read-bundle-files.js';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { openssl, opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

describe('meshca certs intermediate --csr-only + sign-intermediate', () => {
  let rootSide: TempDir;
  let clusterSide: TempDir;
  let rootKeyBefore: string;
  let csrOnlyOut: string;
  before(async () => {
    rootSide = makeTempDir('meshca-root-side-');
    clusterSide = makeTempDir('meshca-cluster-side-');
    await runMeshcaOk(['certs', 'root-ca'], { cwd: rootSide.path });
    rootKeyBefore = rootSide.read('root-key.pem');
    csrOnlyOut = (
      await runMeshcaOk(['certs', 'intermediate', 'west', '--csr-only'], { cwd: clusterSide.path })
    ).stdout;
  });
  after(() => {
    rootSide?.remove();
    clusterSide?.remove();
  });

  it('--csr-only writes the key (0600), a CSR and the profile, and needs no root', async () => {
    const west = (f: string) => join(clusterSide.path, 'west', f);
    assert.equal(
      csrOnlyOut,
      `key and CSR for "west"; sign the CSR where the root key lives with "meshca certs sign-intermediate":\n${[
        'ca-key.pem',
        'cluster-ca.csr',
        'intermediate.conf',
      ]
        .map((f) => `  ${west(f)}\n`)
        .join('')}`,
    );
    assert.equal(statSync(west('ca-key.pem')).mode & 0o777, 0o600);
    assert.equal(existsSync(west('ca-cert.pem')), false);
    const r = await openssl(['req', '-verify', '-noout', '-subject', '-in', west('cluster-ca.csr')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /subject=O = Istio, CN = Intermediate CA, L = west/);
  });

  it('sign-intermediate, run beside the root, completes the cluster directory', async () => {
    const csr = join(clusterSide.path, 'west', 'cluster-ca.csr');
    // Run from the root's directory: the root pair is found by its default names there.
    const r = await runMeshcaOk(['certs', 'sign-intermediate', '--csr', csr], { cwd: rootSide.path });
    const west = (f: string) => join(clusterSide.path, 'west', f);
    assert.equal(
      r.stdout,
      `signed intermediate "O=Istio, CN=Intermediate CA, L=west"; copy these next to its ca-key.pem:\n${[
        'ca-cert.pem',
        'cert-chain.pem',
        'root-cert.pem',
      ]
        .map((f) => `  ${west(f)}\n`)
        .join('')}`,
    );
    assert.equal(clusterSide.read('west/root-cert.pem'), rootSide.read('root-cert.pem'));
    assert.equal(
      clusterSide.read('west/cert-chain.pem'),
      clusterSide.read('west/ca-cert.pem') + rootSide.read('root-cert.pem'),
    );
    const text = await opensslOk(['x509', '-in', west('ca-cert.pem'), '-noout', '-text']);
    assert.match(text, /\n\s+Subject: O = Istio, CN = Intermediate CA, L = west\n/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
    assert.match(text, /X509v3 Subject Alternative Name: \n\s+DNS:istiod\.istio-system\.svc\n/);
    const v = await openssl(['verify', '-CAfile', 'root-cert.pem', 'ca-cert.pem'], {
      cwd: join(clusterSide.path, 'west'),
    });
    assert.equal(v.stdout, 'ca-cert.pem: OK\n', v.stderr);
  });

  it('the root key never left the root directory and is unchanged', () => {
    assert.equal(rootSide.read('root-key.pem'), rootKeyBefore);
    const rootKeyPem = rootKeyBefore.trim();
    for (const file of walk(clusterSide.path)) {
      assert.ok(!clusterSide.read(file.slice(clusterSide.path.length + 1)).includes(rootKeyPem), `${file}`);
      assert.notEqual(file.endsWith('root-key.pem'), true, `${file}`);
    }
  });

  it('the cluster directory works as a plugged-in bundle', async () => {
    const bundle = await loadBundleFromDir(join(clusterSide.path, 'west'));
    assert.equal(bundle.source, 'plugged-istio');
    assert.equal(bundle.issuer.certificate.subject, 'O=Istio, CN=Intermediate CA, L=west');
    assert.equal(bundle.issuer.certificate.pathLen, 0);
    assert.equal(bundle.rootsPem, rootSide.read('root-cert.pem'));
    assert.deepEqual(bundle.warnings, []);
    const mv = await runMeshca(
      ['certs', 'verify', '--root', 'root-cert.pem', '--key', 'ca-key.pem', 'cert-chain.pem'],
      { cwd: join(clusterSide.path, 'west') },
    );
    assert.equal(mv.code, 0, mv.stdout + mv.stderr);
  });

  it('--root-cert/--root-key/--out: explicit paths, output elsewhere', async () => {
    await runMeshcaOk(['certs', 'intermediate', 'east', '--csr-only'], { cwd: clusterSide.path });
    const out = join(clusterSide.path, 'east-signed');
    await runMeshcaOk([
      'certs',
      'sign-intermediate',
      '--root-cert',
      rootSide.file('root-cert.pem'),
      '--root-key',
      rootSide.file('root-key.pem'),
      '--csr',
      join(clusterSide.path, 'east', 'cluster-ca.csr'),
      '--out',
      out,
    ]);
    assert.deepEqual(readdirSync(out).sort(), ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']);
    assert.equal(existsSync(join(clusterSide.path, 'east', 'ca-cert.pem')), false);
    const v = await openssl(['verify', '-CAfile', join(out, 'root-cert.pem'), join(out, 'ca-cert.pem')]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });

  it('refuses to sign over an existing ca-cert.pem without --force, and replaces it with --force', async () => {
    const csr = join(clusterSide.path, 'west', 'cluster-ca.csr');
    const before = clusterSide.read('west/ca-cert.pem');
    const r = await runMeshca(['certs', 'sign-intermediate', '--csr', csr], { cwd: rootSide.path });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: ${join(clusterSide.path, 'west', 'ca-cert.pem')} already exists; meshca never overwrites keys or certificates silently: move it away, or pass --force to replace\n`,
    );
    assert.equal(clusterSide.read('west/ca-cert.pem'), before);
    await runMeshcaOk(['certs', 'sign-intermediate', '--csr', csr, '--force'], { cwd: rootSide.path });
    assert.notEqual(clusterSide.read('west/ca-cert.pem'), before);
  });

  it('refuses a CSR that is not one, naming the file (exit 3)', async () => {
    const bad = clusterSide.write('bad.csr', 'not a certificate request\n');
    const r = await runMeshca(
      ['certs', 'sign-intermediate', '--csr', bad, '--out', clusterSide.file('bad-out')],
      {
        cwd: rootSide.path,
      },
    );
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: ${bad}: the CSR is not a valid PKCS#10 request: the CSR: no PEM block found (expected "-----BEGIN …-----"); check that this is a PEM file and not DER or an empty file\n`,
    );
    assert.equal(existsSync(clusterSide.file('bad-out/ca-cert.pem')), false);
  });

  it('needs --csr (exit 2)', async () => {
    const r = await runMeshca(['certs', 'sign-intermediate'], { cwd: rootSide.path });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'meshca certs: sign-intermediate needs --csr FILE (made by "meshca certs intermediate NAME --csr-only")\n(see "meshca certs --help")\n',
    );
  });

  it('refuses when the root pair is not where it is said to be (exit 3)', async () => {
    const csr = join(clusterSide.path, 'west', 'cluster-ca.csr');
    const r = await runMeshca(['certs', 'sign-intermediate', '--csr', csr], { cwd: clusterSide.path });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: CA certificate ${clusterSide.file('root-cert.pem')} does not exist; give the root certificate and its key with --root-cert and --root-key\n`,
    );
  });
});
