// `meshca certs root-ca`, judged by openssl: Istio's four files, the root profile, and a
// root-ca.conf whose documented openssl commands really reproduce that profile.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { extensionLines, reproduceCommands, sh } from '../support/cli.js';
import { runMeshcaOk } from '../support/meshca-process.js';
import { openssl, opensslOk, opensslText } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const DAY_MS = 86_400_000;

function dateOf(opensslLine: string): Date {
  return new Date(opensslLine.replace(/^not(Before|After)=/, '').trim());
}

describe('meshca certs root-ca', () => {
  let dir: TempDir;
  let stdout: string;
  let startedAt: number;
  let finishedAt: number;
  let text: string;

  before(async () => {
    dir = makeTempDir('meshca-root-ca-');
    // Whole seconds: certificate times have no milliseconds.
    startedAt = Math.floor(Date.now() / 1000) * 1000;
    stdout = (await runMeshcaOk(['certs', 'root-ca'], { cwd: dir.path })).stdout;
    finishedAt = Date.now();
    text = await opensslOk(['x509', '-in', dir.file('root-cert.pem'), '-noout', '-text']);
  });
  after(() => dir?.remove());

  it("writes Istio's four files, the key readable by its owner only", async () => {
    assert.equal(
      stdout,
      `root CA "O=Istio, CN=Root CA" (EC P-256, until ${/until (\S+)\)/.exec(stdout)?.[1]}):\n${[
        'root-cert.pem',
        'root-key.pem',
        'root-ca.conf',
        'root-cert.csr',
      ]
        .map((f) => `  ${dir.file(f)}\n`)
        .join('')}`,
    );
    assert.equal(statSync(dir.file('root-key.pem')).mode & 0o777, 0o600);
    for (const f of ['root-cert.pem', 'root-ca.conf', 'root-cert.csr']) {
      assert.equal(statSync(dir.file(f)).mode & 0o022, 0, `${f} is not group/world writable`);
    }
    // The key is one openssl reads and it belongs to the certificate.
    const keyPub = await opensslOk(['pkey', '-in', dir.file('root-key.pem'), '-pubout']);
    const certPub = await opensslOk(['x509', '-in', dir.file('root-cert.pem'), '-noout', '-pubkey']);
    assert.equal(keyPub, certPub);
  });

  it('is a self-signed root "O=Istio, CN=Root CA" that openssl verifies against itself', async () => {
    assert.match(text, /\n\s+Issuer: O = Istio, CN = Root CA\n/);
    assert.match(text, /\n\s+Subject: O = Istio, CN = Root CA\n/);
    assert.match(text, /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const root = dir.file('root-cert.pem');
    assert.equal(await opensslOk(['verify', '-CAfile', root, root]), `${root}: OK\n`);
  });

  it('has basicConstraints critical CA:TRUE, keyUsage critical Certificate Sign, CRL Sign, Digital Signature, and an SKI', () => {
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    assert.match(text, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
    assert.deepEqual(
      extensionLines(text).map((l) => l.replace(/Identifier: .*/, 'Identifier: …')),
      [
        'Basic Constraints: critical CA:TRUE',
        'Key Usage: critical Digital Signature, Certificate Sign, CRL Sign',
        'Subject Key Identifier: …',
      ],
    );
  });

  it('is valid for 3650 days from now', async () => {
    const notAfter = dateOf(
      await opensslOk(['x509', '-in', dir.file('root-cert.pem'), '-noout', '-enddate']),
    );
    const notBefore = dateOf(
      await opensslOk(['x509', '-in', dir.file('root-cert.pem'), '-noout', '-startdate']),
    );
    assert.ok(notAfter.getTime() >= startedAt + 3650 * DAY_MS, `${notAfter.toISOString()} is 3650 days on`);
    assert.ok(notAfter.getTime() <= finishedAt + 3650 * DAY_MS, `${notAfter.toISOString()} is 3650 days on`);
    assert.ok(notBefore.getTime() <= startedAt, 'valid from the moment it was made');
  });

  it('root-cert.csr is a self-signed request for the same key and subject that `openssl req -verify` accepts', async () => {
    const r = await openssl(['req', '-verify', '-noout', '-subject', '-in', dir.file('root-cert.csr')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /verify OK/);
    assert.match(r.stdout, /subject=O = Istio, CN = Root CA/);
    const csrPub = await opensslOk(['req', '-in', dir.file('root-cert.csr'), '-noout', '-pubkey']);
    assert.equal(csrPub, await opensslOk(['pkey', '-in', dir.file('root-key.pem'), '-pubout']));
  });

  it('root-ca.conf reproduces the profile: its two openssl commands make the same extensions', async () => {
    const conf = dir.read('root-ca.conf');
    const commands = reproduceCommands(conf);
    assert.equal(commands.length, 2);
    assert.match(
      commands[0]!,
      /^openssl req -new -key root-key\.pem -config root-ca\.conf -out root-cert\.csr$/,
    );
    assert.match(commands[1]!, /^openssl x509 -req -days 3650 -signkey root-key\.pem /);
    const redo = makeTempDir('meshca-root-redo-');
    try {
      copyFileSync(dir.file('root-key.pem'), redo.file('root-key.pem'));
      copyFileSync(dir.file('root-ca.conf'), redo.file('root-ca.conf'));
      for (const command of commands) sh(command, redo.path);
      const theirs = await opensslOk(['x509', '-in', redo.file('root-cert.pem'), '-noout', '-text']);
      // Same key, so even the subject key identifier must agree.
      assert.deepEqual(extensionLines(theirs), extensionLines(text));
      assert.match(theirs, /\n\s+Subject: O = Istio, CN = Root CA\n/);
      assert.match(theirs, /Signature Algorithm: ecdsa-with-SHA256/);
      // And the request openssl makes from the config asks for what meshca's request asks for.
      assert.deepEqual(
        extensionLines(await opensslText(redo.file('root-cert.csr'), 'req')),
        extensionLines(await opensslText(dir.file('root-cert.csr'), 'req')),
      );
      assert.ok(extensionLines(await opensslText(dir.file('root-cert.csr'), 'req')).length > 0);
    } finally {
      redo.remove();
    }
  });

  it('root-ca.conf records the digest and the subject', () => {
    const conf = readFileSync(dir.file('root-ca.conf'), 'utf8');
    assert.match(conf, /\ndefault_md = sha256\n/);
    assert.match(conf, /\n\[ req_dn \]\nO = Istio\nCN = Root CA\n/);
  });
});
