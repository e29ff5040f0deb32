// The plug-in flow with every CA key in a SoftHSM2 token, through the built CLI: root and
// intermediate made in the token, `meshca serve --cacerts --ca-key`, a workload certificate judged by
// `openssl verify`, no CA key file anywhere, pkcs11-tool's view of the keys (sensitive, never
// extractable); the token taken away while serving (UNAVAILABLE, /readyz says why) and put back
// (service resumes); and the self-signed root with its key in the token, reused on restart.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMeshca, runMeshcaOk, type ServeProcess, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { makeSoftHsm, type SoftHsm } from '../support/softhsm.js';
import { waitFor } from '../support/wait-for.js';

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    statSync(join(dir, f)).isFile(),
  );
}

async function readyz(serve: ServeProcess): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${serve.monitoringPort}/readyz`);
  return { status: res.status, text: await res.text() };
}

describe('CA keys in a SoftHSM2 token, end to end', { timeout: 120_000 }, () => {
  let hsm: SoftHsm;
  let env: Record<string, string>;
  const rootUri = () => hsm.uri('root-ca');
  const caUri = () => hsm.uri('cluster1-ca');
  const path = (name: string) => hsm.dir.file(name);

  /** A workload certificate from the CA at `serve`, in `out`; the result of `meshca csr`. */
  async function workloadCertificate(serve: ServeProcess, out: string, rootCert: string, dataDir: string) {
    const token = await runMeshcaOk(
      ['token', '-n', 'foo', '--service-account', 'sleep', '--data-dir', dataDir],
      {
        env,
      },
    );
    return runMeshca(
      [
        'csr',
        ...['-n', 'foo', '--service-account', 'sleep', '--token', token.stdout.trim()],
        ...['--ca-root', rootCert, '--ca-addr', `127.0.0.1:${serve.grpcPort}`, '--out-dir', out],
      ],
      { env },
    );
  }

  /** `meshca serve` with the intermediate cluster1 and its key in the token. */
  const serveCluster1 = (dataDir: string) =>
    startServe(['--data-dir', dataDir, '--cacerts', join(path('pki'), 'cluster1'), '--ca-key', caUri()], {
      env,
    });

  before(() => {
    hsm = makeSoftHsm();
    env = { SOFTHSM2_CONF: hsm.conf };
  });
  after(() => hsm?.remove());

  it('makes the root and the intermediate in the token, serves with it, and openssl verifies a workload', async () => {
    const pki = path('pki');
    const root = await runMeshcaOk(['certs', 'root-ca', '--dir', pki, '--key', rootUri()], { env });
    assert.match(root.stdout, /^root CA "O=Istio, CN=Root CA" \(EC P-256, until /);
    await runMeshcaOk(
      ['certs', 'intermediate', 'cluster1', '--dir', pki, '--root-key', rootUri(), '--key', caUri()],
      { env },
    );
    assert.deepEqual(filesUnder(pki).sort(), [
      'cluster1/ca-cert.pem',
      'cluster1/cert-chain.pem',
      'cluster1/cluster-ca.csr',
      'cluster1/intermediate.conf',
      'cluster1/root-cert.pem',
      'root-ca.conf',
      'root-cert.csr',
      'root-cert.pem',
    ]);

    const dataDir = path('data');
    const serve = await serveCluster1(dataDir);
    try {
      const out = path('sleep');
      const csr = await workloadCertificate(serve, out, join(pki, 'root-cert.pem'), dataDir);
      assert.equal(csr.code, 0, csr.stderr);
      const verdict = await opensslOk([
        'verify',
        ...['-CAfile', join(pki, 'root-cert.pem'), '-untrusted', join(out, 'cert-chain.pem')],
        join(out, 'cert-chain.pem'),
      ]);
      assert.equal(verdict.trim(), `${join(out, 'cert-chain.pem')}: OK`);
      assert.equal((await readyz(serve)).status, 200);
    } finally {
      await serve.stop();
    }

    // The CA's keys are nowhere on disk: the only private keys in the data directory are the
    // embedded token issuer's and the issuance log's own, which are no CA keys.
    for (const dir of [pki, dataDir]) {
      const withKeys = filesUnder(dir).filter((f) =>
        readFileSync(join(dir, f), 'utf8').includes('PRIVATE KEY'),
      );
      assert.deepEqual(
        withKeys.sort(),
        dir === pki ? [] : ['issuer/key.pem', 'log/log-key.pem'],
        `private keys under ${relative(hsm.dir.path, dir)}`,
      );
    }
    const objects = hsm.pkcs11Tool(['--list-objects', '--type', 'privkey']);
    for (const label of ['root-ca', 'cluster1-ca']) {
      const entry = objects.split('Private Key Object').find((o) => o.includes(`label:      ${label}\n`));
      assert.ok(entry, `pkcs11-tool lists ${label}:\n${objects}`);
      assert.match(entry, /Access:\s+sensitive, always sensitive, never extractable, local/);
      assert.match(entry, /Usage:\s+sign\n/);
    }
  });

  it('--csr-only makes the key in the token, and sign-intermediate signs with the root key in the token', async () => {
    const pki = path('pki');
    const west = hsm.uri('west-ca');
    const made = await runMeshcaOk(
      ['certs', 'intermediate', 'west', '--dir', pki, '--csr-only', '--key', west],
      {
        env,
      },
    );
    assert.doesNotMatch(made.stdout, /ca-key\.pem/);
    await runMeshcaOk(
      [
        'certs',
        'sign-intermediate',
        ...[
          '--dir',
          pki,
          '--root-cert',
          'root-cert.pem',
          '--root-key',
          rootUri(),
          '--csr',
          'west/cluster-ca.csr',
        ],
      ],
      { env },
    );
    assert.deepEqual(filesUnder(join(pki, 'west')).sort(), [
      'ca-cert.pem',
      'cert-chain.pem',
      'cluster-ca.csr',
      'intermediate.conf',
      'root-cert.pem',
    ]);
    await opensslOk(['verify', '-CAfile', join(pki, 'root-cert.pem'), join(pki, 'west', 'ca-cert.pem')]);
    // The intermediate made that way serves with its key in the token.
    const serve = await startServe(
      ['--data-dir', path('west-data'), '--cacerts', join(pki, 'west'), '--ca-key', west],
      {
        env,
      },
    );
    await serve.stop();
  });

  it('answers UNAVAILABLE while the token is gone, /readyz says why, and serves again once it is back', async () => {
    const pki = path('pki');
    const dataDir = path('data');
    const serve = await serveCluster1(dataDir);
    try {
      assert.equal(
        (await workloadCertificate(serve, path('before'), join(pki, 'root-cert.pem'), dataDir)).code,
        0,
      );
      renameSync(hsm.tokenDir, `${hsm.tokenDir}-away`);
      const refused = await workloadCertificate(serve, path('gone'), join(pki, 'root-cert.pem'), dataDir);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /the CA answered UNAVAILABLE: the CA's signing key is unavailable: its PKCS#11 token does not answer; signing resumes when the token is back/,
      );
      const notReady = await readyz(serve);
      assert.equal(notReady.status, 503);
      assert.ok(
        notReady.text.startsWith(`not ready: the PKCS#11 token is unavailable: ${caUri()}: `),
        notReady.text,
      );
      assert.equal(serve.child.exitCode, null, 'the CA is still running');

      renameSync(`${hsm.tokenDir}-away`, hsm.tokenDir);
      await waitFor('/readyz to say ready again', async () => (await readyz(serve)).status === 200, 30_000);
      const again = await workloadCertificate(serve, path('back'), join(pki, 'root-cert.pem'), dataDir);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await serve.stop();
    }
  });

  it('stays unready when a different token comes back holding another key under the same label', async () => {
    const dataDir = path('data');
    const serve = await serveCluster1(dataDir);
    const original = `${hsm.tokenDir}-original`;
    try {
      renameSync(hsm.tokenDir, original);
      mkdirSync(hsm.tokenDir, { mode: 0o700 });
      execFileSync(
        'softhsm2-util',
        ['--init-token', '--free', '--label', 'meshca', '--pin', hsm.pin, '--so-pin', '5678'],
        {
          env: hsm.env,
          stdio: 'ignore',
        },
      );
      hsm.pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'cluster1-ca', '--id', '31']);
      // The first probe notices the change; the reconnect a second later finds the impostor.
      const impostor = await waitFor(
        '/readyz to name the other key',
        async () => {
          const r = await readyz(serve);
          return r.text.includes('another key') ? r : undefined;
        },
        30_000,
      );
      assert.equal(impostor.status, 503);
      assert.equal(
        impostor.text,
        `not ready: ${caUri()}: the token is back, but the key under this URI is another key than the one in service; put the original token back or restart with the key that belongs to the certificate\n`,
      );
      rmSync(hsm.tokenDir, { recursive: true });
      renameSync(original, hsm.tokenDir);
      await waitFor('/readyz to say ready again', async () => (await readyz(serve)).status === 200, 30_000);
    } finally {
      if (existsSync(original)) {
        rmSync(hsm.tokenDir, { recursive: true, force: true });
        renameSync(original, hsm.tokenDir);
      }
      await serve.stop();
    }
  });

  it('keeps the self-signed root key in the token: made on first start, reused on restart, no ca-key.pem', async () => {
    const dataDir = path('self-signed');
    const uri = hsm.uri('self-signed-root');
    const first = await startServe(['--data-dir', dataDir, '--ca-key', uri], { env });
    await first.stop();
    const rootPem = readFileSync(join(dataDir, 'ca', 'ca-cert.pem'), 'utf8');
    assert.deepEqual(filesUnder(join(dataDir, 'ca')).sort(), [
      'ca-cert.pem',
      'cert-chain.pem',
      'root-cert.pem',
    ]);
    const second = await startServe(['--data-dir', dataDir, '--ca-key', uri], { env });
    try {
      assert.equal(readFileSync(join(dataDir, 'ca', 'ca-cert.pem'), 'utf8'), rootPem, 'the same root');
      const out = path('self-signed-sleep');
      const csr = await workloadCertificate(second, out, join(dataDir, 'ca', 'root-cert.pem'), dataDir);
      assert.equal(csr.code, 0, csr.stderr);
      await opensslOk([
        'verify',
        '-CAfile',
        join(dataDir, 'ca', 'root-cert.pem'),
        join(out, 'cert-chain.pem'),
      ]);
    } finally {
      await second.stop();
    }
  });

  it('with --workers, one process makes the self-signed root key in the token and the others use it', async () => {
    const dataDir = path('workers');
    const serve = await startServe(
      ['--data-dir', dataDir, '--workers', '2', '--ca-key', hsm.uri('workers-root')],
      {
        env,
      },
    );
    try {
      const labelled = hsm
        .pkcs11Tool(['--list-objects', '--type', 'privkey'])
        .split('\n')
        .filter((line) => /label:\s+workers-root$/.test(line));
      assert.equal(labelled.length, 1, 'one key, not one per worker');
      const out = path('workers-sleep');
      const csr = await workloadCertificate(serve, out, join(dataDir, 'ca', 'root-cert.pem'), dataDir);
      assert.equal(csr.code, 0, csr.stderr);
    } finally {
      await serve.stop();
    }
  });

  it('renews a self-signed root whose key is in the token, with that key', async () => {
    const dataDir = path('renewing');
    // A root of a day (backdated two minutes) with 99.99% grace is due as soon as it is made: the check at start renews it.
    const serve = await startServe(['--data-dir', dataDir, '--ca-key', hsm.uri('renewing-root')], {
      env: {
        ...env,
        CITADEL_SELF_SIGNED_CA_CERT_TTL: '24h',
        CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE: '99.99',
      },
    });
    try {
      await serve.waitForLog((l) => l.event === 'root-renewed');
      const roots = readFileSync(join(dataDir, 'ca', 'root-cert.pem'), 'utf8');
      assert.equal(roots.match(/BEGIN CERTIFICATE/g)?.length, 2, 'old and new root in the trust bundle');
      await opensslOk([
        'verify',
        '-CAfile',
        join(dataDir, 'ca', 'root-cert.pem'),
        join(dataDir, 'ca', 'ca-cert.pem'),
      ]);
    } finally {
      await serve.stop();
    }
  });
});
