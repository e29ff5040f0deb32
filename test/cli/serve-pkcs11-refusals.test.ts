// What `meshca serve --ca-key URI` refuses at start, each with exit code 3 and a message that names
// the URI (never the PIN) and says what to do: a wrong PIN, a missing token, object or module, a
// key that is not the certificate's, an RSA key for an EC certificate, a PIN in the URI, a PIN file
// others can read.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { makeSoftHsm, SOFTHSM_MODULE, type SoftHsm } from '../support/softhsm.js';

describe('meshca serve --ca-key refuses at start', { timeout: 120_000 }, () => {
  let hsm: SoftHsm;
  let env: Record<string, string>;
  let cacerts: string;

  /** `meshca serve` with the plugged intermediate and `uri` as its key: must exit 3 before serving. */
  async function refused(uri: string, extraEnv: Record<string, string> = {}): Promise<string> {
    const r = await runMeshca(
      [
        'serve',
        ...['--data-dir', hsm.dir.file('data'), '--cacerts', cacerts, '--ca-key', uri],
        ...['--listen', '127.0.0.1:0', '--monitoring', 'off'],
      ],
      { env: { ...env, ...extraEnv } },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.doesNotMatch(r.stderr, /meshca CA serving/);
    assert.doesNotMatch(r.stderr, new RegExp(hsm.pin), 'the PIN is never printed');
    return r.stderr;
  }

  before(async () => {
    hsm = makeSoftHsm();
    env = { SOFTHSM2_CONF: hsm.conf };
    const pki = hsm.dir.file('pki');
    await runMeshcaOk(['certs', 'root-ca', '--dir', pki, '--key', hsm.uri('root')], { env });
    await runMeshcaOk(
      [
        'certs',
        'intermediate',
        'cluster1',
        '--dir',
        pki,
        '--root-key',
        hsm.uri('root'),
        '--key',
        hsm.uri('ca'),
      ],
      { env },
    );
    cacerts = join(pki, 'cluster1');
    hsm.pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'other-ec', '--id', '10']);
    hsm.pkcs11Tool(['--keypairgen', '--key-type', 'rsa:2048', '--label', 'some-rsa', '--id', '11']);
  });
  after(() => hsm?.remove());

  it('a wrong PIN', async () => {
    const wrongPin = hsm.dir.file('wrong-pin');
    writeFileSync(wrongPin, '9999\n', { mode: 0o600 });
    const uri = hsm.uri('ca', { pinFile: wrongPin });
    assert.equal(
      await refused(uri),
      `meshca serve: ${uri}: logging in to the token failed (CKR_PIN_INCORRECT): the PIN is wrong; put the user PIN of this token in the pin-source file\n`,
    );
  });

  it('a token that is not there', async () => {
    const uri = hsm.uri('ca', { token: 'nope' });
    const message = await refused(uri);
    assert.match(
      message,
      /^meshca serve: pkcs11:token=nope;object=ca\?module-path=.*: no token matches \(module /,
    );
    assert.match(
      message,
      /has tokens "meshca" \(serial [0-9a-f]+\)\); check token= and serial=, or initialize the token/,
    );
  });

  it('an object that is not in the token', async () => {
    const uri = hsm.uri('missing');
    assert.equal(
      await refused(uri),
      `meshca serve: ${uri}: the token holds no private key with object=missing; list its keys with "pkcs11-tool --module ${SOFTHSM_MODULE} --login --list-objects --type privkey", or make one with "meshca certs root-ca --key URI" / "meshca certs intermediate NAME --key URI"\n`,
    );
  });

  it('a module that does not exist', async () => {
    const uri = `pkcs11:token=meshca;object=ca?module-path=/nonexistent/libnothing.so&pin-source=file:${hsm.pinFile}`;
    const message = await refused(uri);
    assert.ok(
      message.startsWith(`meshca serve: ${uri}: cannot load the PKCS#11 module /nonexistent/libnothing.so (`),
      message,
    );
    assert.ok(
      message.endsWith(
        "check module-path: it must name the token's PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so, from the softhsm2 package)\n",
      ),
      message,
    );
  });

  it('a key that is not the certificate’s', async () => {
    const uri = hsm.uri('other-ec');
    assert.equal(
      await refused(uri),
      `meshca serve: ${uri}: key does not match certificate ${cacerts}/ca-cert.pem ("O=Istio, CN=Intermediate CA, L=cluster1"); put the key that belongs to this certificate there, or the certificate that belongs to this key\n`,
    );
  });

  it('an RSA key where the certificate is EC', async () => {
    const uri = hsm.uri('some-rsa');
    assert.equal(
      await refused(uri),
      `meshca serve: ${uri}: the key in the token is RSA 2048, but ${cacerts}/ca-cert.pem ("O=Istio, CN=Intermediate CA, L=cluster1") holds an EC P-256 key, so this cannot be its key; give the URI of the key made together with this certificate\n`,
    );
  });

  it('a PIN in the URI, unless the test-only variable allows it', async () => {
    const withPin = `pkcs11:token=meshca;object=ca?module-path=${SOFTHSM_MODULE}&pin-value=${hsm.pin}`;
    const shown = `pkcs11:token=meshca;object=ca?module-path=${SOFTHSM_MODULE}`;
    assert.equal(
      await refused(withPin),
      `meshca serve: ${shown}: pin-value= puts the PIN into command lines, process lists and shell history; write the PIN to a file (chmod 600) and use pin-source=file:/path/to/pin instead\n`,
    );
    // Allowed for tests, it logs in (and is then refused for the key of another object, without the PIN).
    const otherWithPin = withPin.replace('object=ca', 'object=other-ec');
    assert.match(
      await refused(otherWithPin, { MESHCA_PKCS11_ALLOW_PIN_VALUE: '1' }),
      /: key does not match certificate /,
    );
  });

  it('a PIN file that others can read', async () => {
    const loose = hsm.dir.file('loose-pin');
    writeFileSync(loose, `${hsm.pin}\n`, { mode: 0o644 });
    const uri = hsm.uri('ca', { pinFile: loose });
    assert.equal(
      await refused(uri),
      `meshca serve: ${uri}: the PIN file ${loose} is readable by others (mode 0644); run "chmod 600 ${loose}"\n`,
    );
  });

  it('a malformed URI, with every other problem of the command line', async () => {
    const r = await runMeshca(['serve', '--ca-key', 'pkcs11:token=meshca;object=ca', '--listen', 'nowhere'], {
      env,
    });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--ca-key: pkcs11:token=meshca;object=ca: module-path is missing; add \?module-path=\/path\/to\/the\/module\.so/,
    );
    assert.match(r.stderr, /--listen: "nowhere" is not host:port/);
  });

  it('with the Kubernetes home, which keeps its CA key in Secrets', async () => {
    const kubeconfig = hsm.dir.write('kubeconfig', 'apiVersion: v1\nkind: Config\n');
    const r = await runMeshca(['serve', '--kubeconfig', kubeconfig, '--ca-key', hsm.uri('ca')], { env });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'meshca serve: --ca-key applies to the data-directory home; the Kubernetes home keeps its CA key in Secrets\n(see "meshca serve --help")\n',
    );
  });
});
