// What `meshca certs` refuses to do, each with its exit code and the exact message an operator
// reads: overwriting keys, signing without (or with a wrong, or an expired) root, bad settings.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { encodePrivateKeyPem, generateKey } from '../../src/pki/keys.js';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const HELP = '(see "meshca certs --help")\n';

describe('meshca certs refuses', () => {
  let tmp: TempDir;
  let n = 0;
  const fresh = (): string => {
    const dir = join(tmp.path, `case-${++n}`);
    mkdirSync(dir);
    return dir;
  };
  before(() => {
    tmp = makeTempDir('meshca-refuse-');
  });
  after(() => tmp?.remove());

  it('to overwrite a root without --force, and replaces it with --force', async () => {
    const dir = fresh();
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir });
    const key = tmp.read(`case-${n}/root-key.pem`);
    const cert = tmp.read(`case-${n}/root-cert.pem`);
    const again = await runMeshca(['certs', 'root-ca'], { cwd: dir });
    assert.equal(again.code, 3);
    assert.equal(again.stdout, '');
    assert.equal(
      again.stderr,
      `meshca certs: ${dir}/root-key.pem, ${dir}/root-cert.pem already exist; meshca never overwrites keys or certificates silently: move them away, or pass --force to replace\n`,
    );
    assert.equal(tmp.read(`case-${n}/root-key.pem`), key);
    assert.equal(tmp.read(`case-${n}/root-cert.pem`), cert);

    await runMeshcaOk(['certs', 'root-ca', '--force'], { cwd: dir });
    assert.notEqual(tmp.read(`case-${n}/root-key.pem`), key);
    assert.equal(
      await opensslOk(['pkey', '-in', join(dir, 'root-key.pem'), '-pubout']),
      await opensslOk(['x509', '-in', join(dir, 'root-cert.pem'), '-noout', '-pubkey']),
      'the new certificate goes with the new key',
    );
  });

  it('to overwrite an intermediate or a workload without --force', async () => {
    const dir = fresh();
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir });
    await runMeshcaOk(['certs', 'intermediate', 'cluster1'], { cwd: dir });
    const key = read(dir, 'cluster1/ca-key.pem');
    const r = await runMeshca(['certs', 'cluster1-cacerts'], { cwd: dir });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: ${dir}/cluster1/ca-key.pem, ${dir}/cluster1/ca-cert.pem already exist; meshca never overwrites keys or certificates silently: move them away, or pass --force to replace\n`,
    );
    assert.equal(read(dir, 'cluster1/ca-key.pem'), key);
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--force'], { cwd: dir });
    assert.notEqual(read(dir, 'cluster1/ca-key.pem'), key);

    await runMeshcaOk(['certs', 'workload', 'cluster1'], { cwd: dir });
    const w = await runMeshca(['certs', 'workload', 'cluster1'], { cwd: dir });
    assert.equal(w.code, 3);
    assert.equal(
      w.stderr,
      `meshca certs: ${dir}/cluster1/key.pem, ${dir}/cluster1/workload-cert.pem already exist; meshca never overwrites keys or certificates silently: move them away, or pass --force to replace\n`,
    );
  });

  it('to make an intermediate when there is no root in the directory', async () => {
    const dir = fresh();
    const r = await runMeshca(['certs', 'intermediate', 'cluster1'], { cwd: dir });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: there is no root CA in ${dir} (${dir}/root-cert.pem is missing); run "meshca certs root-ca" there first, or use --csr-only and have the root's owner run "meshca certs sign-intermediate"\n`,
    );
    assert.deepEqual(readdirSync(dir), [], 'nothing was written');
  });

  it('to sign with a root certificate whose key is missing', async () => {
    const dir = fresh();
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir });
    const other = fresh();
    writeFileSync(join(other, 'root-cert.pem'), read(dir, 'root-cert.pem'));
    const r = await runMeshca(['certs', 'intermediate', 'c1'], { cwd: other });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: CA key ${other}/root-key.pem does not exist; the root key must sit beside root-cert.pem; if it lives on another machine, use --csr-only\n`,
    );
  });

  it('to sign with a root key that does not match its certificate', async () => {
    const dir = fresh();
    const stranger = fresh();
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir });
    await runMeshcaOk(['certs', 'root-ca', 'ROOTCA_KEYSZ=2048'], { cwd: stranger });
    writeFileSync(join(dir, 'root-key.pem'), read(stranger, 'root-key.pem'));
    const r = await runMeshca(['certs', 'intermediate', 'cluster1'], { cwd: dir });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: ${dir}/root-key.pem (RSA 2048): key does not match certificate ${dir}/root-cert.pem ("O=Istio, CN=Root CA", EC P-256); use the key made together with this certificate\n`,
    );
    assert.equal(existsSync(join(dir, 'cluster1')), false);
  });

  it('to sign with an expired root', async () => {
    const dir = fresh();
    const key = await generateKey('ec-p256');
    // Made two years ago for one year: expired a year ago.
    const now = new Date(Date.now() - 2 * 365 * 86_400_000);
    const root = await createRootCertificate({ key, subject: { O: 'Istio', CN: 'Root CA' }, days: 365, now });
    writeFileSync(join(dir, 'root-cert.pem'), root.pem);
    writeFileSync(join(dir, 'root-key.pem'), encodePrivateKeyPem(key), { mode: 0o600 });
    const r = await runMeshca(['certs', 'intermediate', 'cluster1'], { cwd: dir });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `meshca certs: ${dir}/root-cert.pem: "O=Istio, CN=Root CA" expired at ${root.notAfter.toISOString()}; make a new one (meshca certs root-ca --force) before signing with it\n`,
    );
    assert.equal(existsSync(join(dir, 'cluster1')), false);
  });

  it('an unknown key type (exit 2), once, and writes nothing', async () => {
    const dir = fresh();
    const r = await runMeshca(['certs', 'root-ca', '--key-type', 'dsa-1024'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `meshca certs: --key-type: unknown key type "dsa-1024"; use one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096\n${HELP}`,
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a key size that is not one meshca makes (exit 2)', async () => {
    const dir = fresh();
    const r = await runMeshca(['certs', 'root-ca'], { cwd: dir, env: { ROOTCA_KEYSZ: '1024' } });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `meshca certs: ROOTCA_KEYSZ=1024 (use 2048, 3072 or 4096): unknown key type "rsa-1024"; use one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096\n${HELP}`,
    );
  });

  for (const [how, value] of [
    ['environment', 'abc'],
    ['environment', '-5'],
    ['argument', '0'],
    ['argument', '1.5'],
    ['flag', '10d'],
  ] as const) {
    it(`a bad ROOTCA_DAYS (${how} "${value}"), exit 2, writing nothing`, async () => {
      const dir = fresh();
      const args =
        how === 'argument'
          ? ['certs', 'root-ca', `ROOTCA_DAYS=${value}`]
          : how === 'flag'
            ? ['certs', 'root-ca', `--rootca-days=${value}`]
            : ['certs', 'root-ca'];
      const r = await runMeshca(args, { cwd: dir, env: how === 'environment' ? { ROOTCA_DAYS: value } : {} });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `meshca certs: ROOTCA_DAYS=${value} is not a positive whole number\n${HELP}`);
      assert.deepEqual(readdirSync(dir), []);
    });
  }

  it('a cluster name that cannot be a directory and L= value', async () => {
    const dir = fresh();
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir });
    const r = await runMeshca(['certs', 'intermediate', '../escape'], { cwd: dir });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      'meshca certs: "../escape" is not a usable cluster name: use letters, digits, ".", "_" or "-" (e.g. cluster1, east)\n',
    );
    assert.equal(existsSync(join(tmp.path, 'escape')), false);
  });

  it('intermediate and workload without a name (exit 2)', async () => {
    const dir = fresh();
    const i = await runMeshca(['certs', 'intermediate'], { cwd: dir });
    assert.equal(i.code, 2);
    assert.equal(
      i.stderr,
      `meshca certs: intermediate needs a cluster name, e.g. "meshca certs intermediate cluster1"\n${HELP}`,
    );
    const w = await runMeshca(['certs', 'workload'], { cwd: dir });
    assert.equal(w.code, 2);
    assert.equal(
      w.stderr,
      `meshca certs: workload needs a namespace, e.g. "meshca certs workload foo --service-account httpbin"\n${HELP}`,
    );
    const extra = await runMeshca(['certs', 'intermediate', 'a', 'b'], { cwd: dir });
    assert.equal(extra.code, 2);
    assert.equal(extra.stderr, `meshca certs: unexpected arguments: b\n${HELP}`);
  });
});

function read(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}
