// The CA server in process: real gRPC over TLS on 127.0.0.1, real tokens, openssl as the judge.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { DEFAULT_INTERMEDIATE } from '../../src/ca/offline/profile.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import { encodePem } from '../../src/pki/pem.js';
import {
  assertCallRefused,
  type CaServerFixture,
  makePluggedBundle,
  readText,
  startFixtureServer,
  workloadCsr,
} from '../support/ca-server-fixture.js';
import { makeIstioMakefileBundle } from '../support/istio-makefile-bundle.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { openssl, opensslCsr, opensslText } from '../support/openssl.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

const SAMPLES = `${SAMPLES_DIR}/`;

describe('plugged-in CA made by meshca certs', () => {
  let dir: string;
  let cluster: string;
  let ca: CaServerFixture;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshca-plugged-'));
    cluster = await makePluggedBundle(dir);
    ca = await startFixtureServer({ ca: { kind: 'plugged', dir: cluster } });
  });
  after(async () => {
    await ca.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("Istio's verification: root identical, CA identical, openssl verify OK", async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const chain = await ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
    assert.equal(chain.length, 3, 'leaf, intermediate, root');
    assert.equal(await opensslText({ pem: chain[2]! }), await opensslText(join(cluster, 'root-cert.pem')));
    assert.equal(await opensslText({ pem: chain[1]! }), await opensslText(join(cluster, 'ca-cert.pem')));
    const tmp = makeTempDir();
    try {
      tmp.write(
        'ca.pem',
        (await readText(join(cluster, 'ca-cert.pem'))) + (await readText(join(cluster, 'root-cert.pem'))),
      );
      tmp.write('leaf.pem', chain[0]!);
      const verified = await openssl(['verify', '-CAfile', tmp.file('ca.pem'), tmp.file('leaf.pem')]);
      assert.equal(verified.stdout.trim(), `${tmp.file('leaf.pem')}: OK`);
      for (const purpose of ['sslclient', 'sslserver']) {
        assert.equal(
          (
            await openssl([
              'verify',
              '-purpose',
              purpose,
              '-CAfile',
              tmp.file('ca.pem'),
              tmp.file('leaf.pem'),
            ])
          ).status,
          0,
        );
      }
    } finally {
      tmp.remove();
    }
    const leaf = parseCertificates(chain[0]!)[0]!;
    assert.deepEqual(leaf.uris, ['spiffe://cluster.local/ns/foo/sa/sleep']);
    assert.equal(
      Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 1000),
      24 * 3600 + 120,
      'default 24h, backdated 2 minutes',
    );
  });

  test("the SAN is the caller's own identity; a CSR naming another is PERMISSION_DENIED naming both", async () => {
    const { csrPem } = await workloadCsr('foo', 'httpbin');
    await assertCallRefused(
      ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') }),
      status.PERMISSION_DENIED,
      'the CSR asks for identity spiffe://cluster.local/ns/foo/sa/httpbin but the caller is spiffe://cluster.local/ns/foo/sa/sleep; a workload may only get a certificate for its own identity',
    );
  });

  test('authentication failures are UNAUTHENTICATED "request authenticate failure", the reason only in the log', async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const client = ca.client();
    const cases: [string, Promise<string | undefined>, string][] = [
      ['no token', Promise.resolve(undefined), 'SERVER_NO_CREDENTIALS'],
      ['garbage', Promise.resolve('not.a.jwt'), 'IDENTITY_TOKEN_MALFORMED'],
      [
        'expired',
        ca.token('foo', 'sleep', { ttlSeconds: 60, now: new Date(Date.now() - 3600_000) }),
        'IDENTITY_TOKEN_EXPIRED',
      ],
      ['other audience', ca.token('foo', 'sleep', { audience: 'something-else' }), 'IDENTITY_TOKEN_AUDIENCE'],
    ];
    for (const [name, tokenPromise, code] of cases) {
      const token = await tokenPromise;
      await assertCallRefused(
        client.createCertificate({ csrPem, token }),
        status.UNAUTHENTICATED,
        'request authenticate failure',
      );
      const logged = ca.logs.filter((l) => l.msg === 'authentication failed').at(-1);
      assert.equal(logged?.code, code, name);
      if (token) assert.ok(!JSON.stringify(ca.logs).includes(token), 'a token never reaches the log');
    }
  });

  test('bad CSRs are INVALID_ARGUMENT saying which', async () => {
    const token = await ca.token('foo', 'sleep');
    const client = ca.client();
    await assertCallRefused(
      client.createCertificate({ csrPem: 'garbage', token }),
      status.INVALID_ARGUMENT,
      /no PEM block|not a valid PKCS#10/,
    );
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0xff;
    await assertCallRefused(
      client.createCertificate({ csrPem: encodePem('CERTIFICATE REQUEST', der), token }),
      status.INVALID_ARGUMENT,
      /signature does not verify/,
    );
    const tmp = makeTempDir();
    try {
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
      const weakCsr = await opensslCsr(tmp, weak, [
        'subjectAltName=URI:spiffe://cluster.local/ns/foo/sa/sleep',
      ]);
      await assertCallRefused(
        client.createCertificate({ csrPem: weakCsr, token }),
        status.INVALID_ARGUMENT,
        /RSA 1024, weaker than the minimum RSA 2048/,
      );
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      const caCsr = await opensslCsr(tmp, ec, ['basicConstraints=critical,CA:TRUE'], '/CN=evil');
      await assertCallRefused(
        client.createCertificate({ csrPem: caCsr, token }),
        status.INVALID_ARGUMENT,
        /asks for a CA certificate/,
      );
    } finally {
      tmp.remove();
    }
  });

  test("TTL: 0 means the default, above the maximum is refused with Istio's message", async () => {
    const token = await ca.token('foo', 'sleep');
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const client = ca.client();
    await assertCallRefused(
      client.createCertificate({ csrPem, token, ttlSeconds: 90 * 24 * 3600 + 1 }),
      status.INVALID_ARGUMENT,
      'requested TTL 2160h1s is greater than the max allowed TTL 2160h',
    );
    const chain = await client.createCertificate({ csrPem, token, ttlSeconds: 3600 });
    const leaf = parseCertificates(chain[0]!)[0]!;
    assert.equal(Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 1000), 3600 + 120);
  });

  test('CertSigner metadata is ignored in CA mode and ClusterID is logged', async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const chain = await ca.client().createCertificate({
      csrPem,
      token: await ca.token('foo', 'sleep'),
      certSigner: 'anything',
      clusterId: 'cluster-east',
    });
    assert.equal(chain.length, 3);
    assert.equal(ca.logs.filter((l) => l.msg === 'certificate issued').at(-1)?.clusterId, 'cluster-east');
  });

  test('a workload renews with its client certificate, for its own identity only', async () => {
    const first = await workloadCsr('foo', 'sleep');
    const chain = await ca
      .client()
      .createCertificate({ csrPem: first.csrPem, token: await ca.token('foo', 'sleep') });
    const keyPem = first.key.export({ type: 'pkcs8', format: 'pem' }) as string;
    const renewing = ca.client({ clientCertificate: { certChainPem: chain.join(''), keyPem } });
    const next = await workloadCsr('foo', 'sleep');
    const renewed = await renewing.createCertificate({ csrPem: next.csrPem });
    assert.deepEqual(parseCertificates(renewed[0]!)[0]!.uris, ['spiffe://cluster.local/ns/foo/sa/sleep']);
    const other = await workloadCsr('foo', 'httpbin');
    await assertCallRefused(
      renewing.createCertificate({ csrPem: other.csrPem }),
      status.PERMISSION_DENIED,
      /caller is spiffe:\/\/cluster.local\/ns\/foo\/sa\/sleep/,
    );
  });

  test('500 concurrent CSRs all succeed with unique serials', async () => {
    const token = await ca.token('foo', 'sleep');
    const client = ca.client();
    const csrs = await Promise.all(Array.from({ length: 20 }, () => workloadCsr('foo', 'sleep')));
    const chains = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        client.createCertificate({ csrPem: csrs[i % csrs.length]!.csrPem, token }),
      ),
    );
    const serials = new Set(chains.map((c) => parseCertificates(c[0]!)[0]!.serialHex));
    assert.equal(serials.size, 500);
  });

  test("metrics carry Istio's names", async () => {
    const res = await fetch(`http://127.0.0.1:${ca.server.monitoringPort}/metrics`);
    const text = await res.text();
    for (const name of [
      'citadel_server_csr_count',
      'citadel_server_authentication_failure_count',
      'citadel_server_csr_sign_err_count',
      'citadel_server_success_cert_issuance_count',
      'citadel_server_root_cert_expiry_timestamp',
      'citadel_server_root_cert_expiry_seconds',
      'citadel_server_cert_chain_expiry_timestamp',
      'citadel_server_cert_chain_expiry_seconds',
      'meshca_issuance_duration_seconds_bucket',
    ]) {
      assert.match(text, new RegExp(`^${name}`, 'm'), name);
    }
    assert.equal((await fetch(`http://127.0.0.1:${ca.server.monitoringPort}/readyz`)).status, 200);
  });

  test('hot reload: good → bad keeps the good one → new good is used', async () => {
    const token = await ca.token('foo', 'sleep');
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const before = ca.server.ca.bundle.issuer.certificate.serialHex;
    // Bad: a key that belongs to no certificate here.
    await copyFile(join(cluster, 'ca-key.pem'), join(dir, 'good-key.pem'));
    await writeFile(
      join(cluster, 'ca-key.pem'),
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    assert.equal(await ca.server.reload(), false);
    const failed = ca.logs.filter((l) => l.event === 'ca-reload-failed').at(-1);
    assert.match(String(failed?.reason), /key does not match certificate/);
    const stillGood = await ca.client().createCertificate({ csrPem, token });
    assert.equal(parseCertificates(stillGood[1]!)[0]!.serialHex, before);
    // The operator puts the good key back: the reload recovers, and says so.
    await copyFile(join(dir, 'good-key.pem'), join(cluster, 'ca-key.pem'));
    assert.equal(await ca.server.reload(), false, 'the bundle in service is unchanged');
    const recovered = ca.logs.find((l) => l.event === 'ca-reload-recovered');
    assert.equal(recovered?.changed, false);
    // New good: another intermediate from the same root.
    await makeIntermediate({ rootDir: dir, cluster: 'cluster1', profile: DEFAULT_INTERMEDIATE, force: true });
    await waitFor(
      'the new intermediate in service',
      () => ca.server.ca.bundle.issuer.certificate.serialHex !== before,
      10_000,
    );
    const renewed = await ca.client().createCertificate({ csrPem, token });
    assert.equal(await opensslText({ pem: renewed[1]! }), await opensslText(join(cluster, 'ca-cert.pem')));
  });
});

describe("plugged-in CA from Istio's sample certificates", () => {
  for (const set of ['', '-alt']) {
    test(`the ca-cert${set} set issues a chain that openssl verifies`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'meshca-samples-'));
      try {
        for (const name of ['ca-cert', 'ca-key', 'cert-chain'])
          await copyFile(join(SAMPLES, `${name}${set}.pem`), join(dir, `${name}.pem`));
        await copyFile(
          join(SAMPLES, set ? 'root-cert-alt.pem' : 'root-cert.pem'),
          join(dir, 'root-cert.pem'),
        );
        const ca = await startFixtureServer({ ca: { kind: 'plugged', dir } });
        try {
          const { csrPem } = await workloadCsr('foo', 'sleep');
          const chain = await ca
            .client()
            .createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
          assert.equal(
            await opensslText({ pem: chain.at(-1)! }),
            await opensslText(join(dir, 'root-cert.pem')),
          );
          const tmp = makeTempDir();
          try {
            tmp.write('roots.pem', chain.at(-1)!);
            tmp.write('untrusted.pem', chain.slice(1, -1).join(''));
            tmp.write('leaf.pem', chain[0]!);
            const args = [
              'verify',
              '-CAfile',
              tmp.file('roots.pem'),
              ...(chain.length > 2 ? ['-untrusted', tmp.file('untrusted.pem')] : []),
              tmp.file('leaf.pem'),
            ];
            assert.equal((await openssl(args)).status, 0);
          } finally {
            tmp.remove();
          }
        } finally {
          await ca.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  test("a bundle made by openssl with Istio's Makefile profile (RSA 4096) issues chains openssl verifies", async () => {
    const bundle = await makeIstioMakefileBundle();
    try {
      const ca = await startFixtureServer({ ca: { kind: 'plugged', dir: bundle.clusterDir } });
      try {
        const { csrPem } = await workloadCsr('foo', 'sleep');
        const chain = await ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
        assert.equal(
          await opensslText({ pem: chain[2]! }),
          await opensslText(join(bundle.clusterDir, 'root-cert.pem')),
        );
        assert.equal(
          await opensslText({ pem: chain[1]! }),
          await opensslText(join(bundle.clusterDir, 'ca-cert.pem')),
        );
        const tmp = makeTempDir();
        try {
          tmp.write('ca.pem', chain[1]! + chain[2]!);
          tmp.write('leaf.pem', chain[0]!);
          assert.equal(
            (await openssl(['verify', '-CAfile', tmp.file('ca.pem'), tmp.file('leaf.pem')])).stdout.trim(),
            `${tmp.file('leaf.pem')}: OK`,
          );
        } finally {
          tmp.remove();
        }
      } finally {
        await ca.close();
      }
    } finally {
      bundle.dir.remove();
    }
  });

  test('the mismatched -alt-2 pair is refused at startup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-samples-'));
    try {
      await copyFile(join(SAMPLES, 'ca-cert-alt-2.pem'), join(dir, 'ca-cert.pem'));
      await copyFile(join(SAMPLES, 'ca-key-alt-2.pem'), join(dir, 'ca-key.pem'));
      await copyFile(join(SAMPLES, 'cert-chain-alt-2.pem'), join(dir, 'cert-chain.pem'));
      await copyFile(join(SAMPLES, 'root-cert-combined-2.pem'), join(dir, 'root-cert.pem'));
      await assert.rejects(
        startFixtureServer({ ca: { kind: 'plugged', dir } }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'CA_KEY_MISMATCH');
          assert.match(err.message, /ca-key.pem: key does not match certificate .*ca-cert.pem/);
          return true;
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the kubernetes.io/tls layout (tls.crt, tls.key, ca.crt) works and wins over Istio's names", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-tls-'));
    try {
      const cluster = await makePluggedBundle(dir);
      const tls = join(dir, 'tls');
      await mkdir(tls);
      await copyFile(join(cluster, 'cert-chain.pem'), join(tls, 'tls.crt'));
      await copyFile(join(cluster, 'ca-key.pem'), join(tls, 'tls.key'));
      await copyFile(join(cluster, 'root-cert.pem'), join(tls, 'ca.crt'));
      await writeFile(join(tls, 'ca-cert.pem'), 'not used when tls.crt exists');
      const ca = await startFixtureServer({ ca: { kind: 'plugged', dir: tls } });
      try {
        assert.equal(ca.server.ca.bundle.source, 'plugged-tls');
        const { csrPem } = await workloadCsr('bar', 'web');
        const chain = await ca.client().createCertificate({ csrPem, token: await ca.token('bar', 'web') });
        assert.equal(chain.length, 3);
        assert.equal(await opensslText({ pem: chain[1]! }), await opensslText(join(cluster, 'ca-cert.pem')));
      } finally {
        await ca.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('self-signed CA', () => {
  test('a root is never sent twice: leaf then the root bundle', async () => {
    const ca = await startFixtureServer();
    try {
      const { csrPem } = await workloadCsr('foo', 'sleep');
      const chain = await ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
      assert.equal(chain.length, 2);
      assert.equal(chain[1], ca.rootsPem());
      const root = parseCertificates(chain[1]!)[0]!;
      assert.equal(root.subject, 'O=cluster.local');
    } finally {
      await ca.close();
    }
  });
});
