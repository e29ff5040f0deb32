// `meshca certs workload NS` / `NS-certs` (Istio's certificates for a VM), judged by openssl: a
// SPIFFE leaf that verifies for both TLS client and server use, with its key and chain beside it.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { openssl, opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g;

describe('meshca certs workload', () => {
  let dir: TempDir;
  let stdout: string;
  before(async () => {
    dir = makeTempDir('meshca-workload-');
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir.path });
    stdout = (
      await runMeshcaOk(['certs', 'workload', 'foo', '--service-account', 'httpbin'], { cwd: dir.path })
    ).stdout;
  });
  after(() => dir?.remove());

  it('writes foo/workload-cert.pem, key.pem (0600), workload-cert-chain.pem, root-cert.pem', async () => {
    assert.equal(
      stdout,
      `workload certificate for spiffe://cluster.local/ns/foo/sa/httpbin:\n${[
        'workload-cert.pem',
        'key.pem',
        'workload-cert-chain.pem',
        'root-cert.pem',
      ]
        .map((f) => `  ${join(dir.path, 'foo', f)}\n`)
        .join('')}`,
    );
    for (const f of ['workload-cert.pem', 'key.pem', 'workload-cert-chain.pem', 'root-cert.pem']) {
      assert.ok(existsSync(dir.file(`foo/${f}`)), `foo/${f}`);
    }
    assert.equal(statSync(dir.file('foo/key.pem')).mode & 0o777, 0o600);
    assert.equal(
      await opensslOk(['pkey', '-in', dir.file('foo/key.pem'), '-pubout']),
      await opensslOk(['x509', '-in', dir.file('foo/workload-cert.pem'), '-noout', '-pubkey']),
    );
  });

  it("makes the namespace's intermediate first, as the Makefile's NS-certs target does", async () => {
    assert.match(
      await opensslOk(['x509', '-in', dir.file('foo/ca-cert.pem'), '-noout', '-subject']),
      /^subject=O = Istio, CN = Intermediate CA, L = foo\n/,
    );
    assert.equal(dir.read('foo/root-cert.pem'), dir.read('root-cert.pem'));
  });

  it('the chain file is leaf, intermediate, root', () => {
    const chain = dir.read('foo/workload-cert-chain.pem').match(PEM_CERT) ?? [];
    assert.deepEqual(chain, [
      dir.read('foo/workload-cert.pem'),
      dir.read('foo/ca-cert.pem'),
      dir.read('root-cert.pem'),
    ]);
  });

  it('the leaf carries the URI SAN spiffe://cluster.local/ns/foo/sa/httpbin and is no CA', async () => {
    const text = await opensslOk(['x509', '-in', dir.file('foo/workload-cert.pem'), '-noout', '-text']);
    assert.match(
      text,
      /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin\n/,
    );
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    assert.match(
      text,
      /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/,
    );
    assert.match(text, /\n\s+Issuer: O = Istio, CN = Intermediate CA, L = foo\n/);
  });

  for (const purpose of ['sslclient', 'sslserver']) {
    it(`openssl verify -purpose ${purpose} accepts it`, async () => {
      const r = await openssl(
        [
          'verify',
          '-purpose',
          purpose,
          '-CAfile',
          'foo/root-cert.pem',
          '-untrusted',
          'foo/ca-cert.pem',
          'foo/workload-cert.pem',
        ],
        { cwd: dir.path },
      );
      assert.equal(r.stdout, 'foo/workload-cert.pem: OK\n', r.stderr);
    });
  }

  it('meshca certs verify accepts the chain file with its key', async () => {
    const r = await runMeshca(
      [
        'certs',
        'verify',
        '--root',
        'foo/root-cert.pem',
        '--key',
        'foo/key.pem',
        'foo/workload-cert-chain.pem',
      ],
      { cwd: dir.path },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(
      r.stdout,
      'foo/workload-cert-chain.pem: OK ("spiffe://cluster.local/ns/foo/sa/httpbin" → "O=Istio, CN=Intermediate CA, L=foo" → "O=Istio, CN=Root CA")\n',
    );
  });

  it('`bar-certs` reuses an existing bar intermediate instead of replacing it', async () => {
    await runMeshcaOk(['certs', 'intermediate', 'bar'], { cwd: dir.path });
    const intermediate = dir.read('bar/ca-cert.pem');
    const key = dir.read('bar/ca-key.pem');
    const r = await runMeshcaOk(['certs', 'bar-certs', 'SERVICE_ACCOUNT=ratings'], { cwd: dir.path });
    assert.match(r.stdout, /^workload certificate for spiffe:\/\/cluster\.local\/ns\/bar\/sa\/ratings:\n/);
    assert.equal(dir.read('bar/ca-cert.pem'), intermediate);
    assert.equal(dir.read('bar/ca-key.pem'), key);
    const v = await openssl(
      ['verify', '-CAfile', 'root-cert.pem', '-untrusted', 'bar/ca-cert.pem', 'bar/workload-cert.pem'],
      { cwd: dir.path },
    );
    assert.equal(v.stdout, 'bar/workload-cert.pem: OK\n', v.stderr);
  });

  it('the default service account is "default"', async () => {
    const r = await runMeshcaOk(['certs', 'workload', 'baz'], { cwd: dir.path });
    assert.match(r.stdout, /^workload certificate for spiffe:\/\/cluster\.local\/ns\/baz\/sa\/default:\n/);
  });
});
