// `meshca certs intermediate NAME` and `meshca certs NAME-cacerts`, judged by openssl: Istio's
// cacerts layout, the intermediate profile, a chain openssl verifies, a bundle meshca serves with,
// and an intermediate.conf whose documented openssl commands reproduce the profile.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBundleFromDir } from '../../src/ca/read-bundle-files.js';
import { extensionLines, reproduceCommands, sh } from '../support/cli.js';
import { runMeshcaOk } from '../support/meshca-process.js';
import { openssl, opensslOk, opensslText } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g;

function ski(text: string): string {
  const m = /X509v3 Subject Key Identifier: \n\s+(\S+)\n/.exec(text);
  assert.ok(m, 'has a subject key identifier');
  return m[1]!;
}

/** Every property the issue asks of a cluster's cacerts directory, for cluster `name` under root dir `dir`. */
async function checkClusterDir(dir: TempDir, name: string): Promise<void> {
  const cluster = (f: string) => join(dir.path, name, f);
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) {
    assert.ok(existsSync(cluster(f)), `${name}/${f} exists`);
  }
  assert.equal(statSync(cluster('ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(
    dir.read(`${name}/root-cert.pem`),
    dir.read('root-cert.pem'),
    'root-cert.pem is a copy of the root',
  );
  // cert-chain.pem: the intermediate, then the root.
  const chain = dir.read(`${name}/cert-chain.pem`).match(PEM_CERT) ?? [];
  assert.deepEqual(chain, [dir.read(`${name}/ca-cert.pem`), dir.read('root-cert.pem')]);

  const text = await opensslText(cluster('ca-cert.pem'));
  assert.match(text, new RegExp(`\\n\\s+Subject: O = Istio, CN = Intermediate CA, L = ${name}\\n`));
  assert.match(text, /\n\s+Issuer: O = Istio, CN = Root CA\n/);
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+[^\n]*Certificate Sign[^\n]*\n/);
  assert.match(text, /X509v3 Subject Alternative Name: \n\s+DNS:istiod\.istio-system\.svc\n/);
  const aki = /X509v3 Authority Key Identifier: \n\s+(?:keyid:)?(\S+)\n/.exec(text)?.[1];
  assert.equal(aki, ski(await opensslText(dir.file('root-cert.pem'))), 'AKI is the root SKI');
  assert.equal(
    await opensslOk(['pkey', '-in', cluster('ca-key.pem'), '-pubout']),
    await opensslOk(['x509', '-in', cluster('ca-cert.pem'), '-noout', '-pubkey']),
    'ca-key.pem belongs to ca-cert.pem',
  );

  const verify = await openssl(['verify', '-CAfile', 'root-cert.pem', `${name}/ca-cert.pem`], {
    cwd: dir.path,
  });
  assert.equal(verify.stdout, `${name}/ca-cert.pem: OK\n`, verify.stderr);
  // The cluster directory alone is enough, as it is once copied into a cacerts secret.
  const own = await openssl(
    ['verify', '-CAfile', 'root-cert.pem', '-untrusted', 'cert-chain.pem', 'ca-cert.pem'],
    {
      cwd: join(dir.path, name),
    },
  );
  assert.equal(own.stdout, 'ca-cert.pem: OK\n', own.stderr);

  const bundle = await loadBundleFromDir(join(dir.path, name));
  assert.equal(bundle.source, 'plugged-istio');
  assert.equal(bundle.issuer.certificate.subject, `O=Istio, CN=Intermediate CA, L=${name}`);
  assert.deepEqual(bundle.chainPems, [dir.read(`${name}/ca-cert.pem`)]);
  assert.equal(bundle.rootsPem, dir.read('root-cert.pem'));
  assert.deepEqual(bundle.warnings, []);
}

describe('meshca certs intermediate / NAME-cacerts', () => {
  let a: TempDir;
  let b: TempDir;
  before(async () => {
    a = makeTempDir('meshca-inter-a-');
    b = makeTempDir('meshca-inter-b-');
    await runMeshcaOk(['certs', 'root-ca'], { cwd: a.path });
    await runMeshcaOk(['certs', 'root-ca', '--dir', b.path]);
  });
  after(() => {
    a?.remove();
    b?.remove();
  });

  it('`intermediate cluster1` makes cluster1/{ca-cert,ca-key,cert-chain,root-cert}.pem', async () => {
    const r = await runMeshcaOk(['certs', 'intermediate', 'cluster1'], { cwd: a.path });
    assert.equal(
      r.stdout,
      `intermediate CA "O=Istio, CN=Intermediate CA, L=cluster1" (EC P-256), signed by ${a.path}/root-cert.pem:\n${[
        'ca-cert.pem',
        'ca-key.pem',
        'cert-chain.pem',
        'root-cert.pem',
      ]
        .map((f) => `  ${join(a.path, 'cluster1', f)}\n`)
        .join('')}`,
    );
    await checkClusterDir(a, 'cluster1');
  });

  it('`cluster1-cacerts` (the Makefile target name) makes the same layout', async () => {
    await runMeshcaOk(['certs', 'cluster1-cacerts'], { cwd: b.path });
    await checkClusterDir(b, 'cluster1');
  });

  it('works for other cluster names: east, cluster2, west (both spellings)', async () => {
    await runMeshcaOk(['certs', 'intermediate', 'east'], { cwd: a.path });
    await runMeshcaOk(['certs', 'cluster2-cacerts'], { cwd: a.path });
    await runMeshcaOk(['certs', 'west-cacerts', '-d', b.path]);
    await checkClusterDir(a, 'east');
    await checkClusterDir(a, 'cluster2');
    await checkClusterDir(b, 'west');
    // Each cluster has its own key under the one root.
    assert.notEqual(a.read('east/ca-key.pem'), a.read('cluster2/ca-key.pem'));
  });

  it('cluster-ca.csr is a valid request for the intermediate key and subject', async () => {
    const r = await openssl([
      'req',
      '-verify',
      '-noout',
      '-subject',
      '-in',
      a.file('cluster1/cluster-ca.csr'),
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /subject=O = Istio, CN = Intermediate CA, L = cluster1/);
    assert.equal(
      await opensslOk(['req', '-in', a.file('cluster1/cluster-ca.csr'), '-noout', '-pubkey']),
      await opensslOk(['pkey', '-in', a.file('cluster1/ca-key.pem'), '-pubout']),
    );
  });

  it('intermediate.conf reproduces the profile: its openssl commands make the same extensions', async () => {
    const conf = a.read('cluster1/intermediate.conf');
    const commands = reproduceCommands(conf);
    assert.equal(commands.length, 2);
    assert.match(
      commands[0]!,
      /^openssl req -new -key ca-key\.pem -config intermediate\.conf -out cluster-ca\.csr$/,
    );
    assert.match(
      commands[1]!,
      /^openssl x509 -req -days 3650 -CA \.\.\/root-cert\.pem -CAkey \.\.\/root-key\.pem /,
    );
    // The same layout as meshca's: the root one directory above the cluster's.
    const redo = makeTempDir('meshca-inter-redo-');
    try {
      mkdirSync(redo.file('cluster1'));
      copyFileSync(a.file('root-cert.pem'), redo.file('root-cert.pem'));
      copyFileSync(a.file('root-key.pem'), redo.file('root-key.pem'));
      copyFileSync(a.file('cluster1/ca-key.pem'), redo.file('cluster1/ca-key.pem'));
      copyFileSync(a.file('cluster1/intermediate.conf'), redo.file('cluster1/intermediate.conf'));
      for (const command of commands) sh(command, redo.file('cluster1'));
      const theirs = await opensslText(redo.file('cluster1/ca-cert.pem'));
      const ours = await opensslText(a.file('cluster1/ca-cert.pem'));
      assert.deepEqual(extensionLines(theirs), extensionLines(ours));
      assert.match(theirs, /\n\s+Subject: O = Istio, CN = Intermediate CA, L = cluster1\n/);
      assert.equal(
        (await openssl(['verify', '-CAfile', 'root-cert.pem', 'cluster1/ca-cert.pem'], { cwd: redo.path }))
          .stdout,
        'cluster1/ca-cert.pem: OK\n',
      );
      assert.deepEqual(
        extensionLines(await opensslText(redo.file('cluster1/cluster-ca.csr'), 'req')),
        extensionLines(await opensslText(a.file('cluster1/cluster-ca.csr'), 'req')),
      );
    } finally {
      redo.remove();
    }
  });
});
