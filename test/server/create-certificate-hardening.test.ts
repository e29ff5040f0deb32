// What a caller sends cannot grow the CA's metrics or logs: sign-error labels hold configured signer
// names only, caller values are capped in log lines and status messages, Istio's parsing and
// id-extraction counters count what they say, and Node's process metrics are on the server's own
// registry. Real CA servers in process, real gRPC over TLS, real tokens.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { register as globalRegistry, Registry } from 'prom-client';
import type { CaCallError } from '../../src/agent/ca-client.js';
import { quoteForMessage } from '../../src/identity/kubernetes-names.js';
import { CALLER_TEXT_LIMIT, capCallerText } from '../../src/log.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { MESSAGE_LIMIT } from '../../src/server/create-certificate.js';
import { UNKNOWN_SIGNER } from '../../src/server/metrics.js';
import { startMonitoringServer } from '../../src/server/monitoring-server.js';
import { startTaskRegistrationAuthority } from '../mesh/mesh-fixtures.js';
import {
  assertCallRefused,
  type CaServerFixture,
  startFixtureServer,
  workloadCsr,
} from '../support/ca-server-fixture.js';

const HUGE = 500 * 1024;
/** A log line or status that carries a capped caller value and a capped message stays below this. */
const LINE_BOUND = MESSAGE_LIMIT + 2 * CALLER_TEXT_LIMIT + 1024;

type Series = { labels: Record<string, string | number>; value: number };

async function series(registry: Registry, name: string): Promise<Series[]> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  return (await metric.get()).values as Series[];
}

async function total(registry: Registry, name: string): Promise<number> {
  return (await series(registry, name)).reduce((sum, s) => sum + s.value, 0);
}

/** The log lines `work` adds, each checked to be small, and all of them together. */
async function logsOf(fixture: CaServerFixture, work: () => Promise<unknown>) {
  const from = fixture.logs.length;
  await work();
  const lines = fixture.logs.slice(from);
  for (const line of lines) {
    const size = JSON.stringify(line).length;
    assert.ok(size < LINE_BOUND, `a ${size}-byte log line: ${JSON.stringify(line).slice(0, 300)}…`);
  }
  return lines;
}

test('capCallerText keeps short values and caps long ones saying how much is left out', () => {
  assert.equal(
    capCallerText('spiffe://cluster.local/ns/foo/sa/sleep'),
    'spiffe://cluster.local/ns/foo/sa/sleep',
  );
  assert.equal(capCallerText('x'.repeat(CALLER_TEXT_LIMIT)), 'x'.repeat(CALLER_TEXT_LIMIT));
  assert.equal(capCallerText('x'.repeat(HUGE)), `${'x'.repeat(256)}…(${HUGE - 256} more)`);
  assert.equal(capCallerText('abcdef', 2), 'ab…(4 more)');
  assert.equal(quoteForMessage('y'.repeat(1000)), `"${'y'.repeat(100)}…(900 more)"`);
});

describe('CA mode', () => {
  let ca: CaServerFixture;
  let registry: Registry;
  before(async () => {
    ca = await startFixtureServer();
    registry = ca.server.metricsRegistry;
  });
  after(() => ca.close());

  test('1000 distinct CertSigner values leave one "unknown" sign-error series; the local signer keeps its name', async () => {
    const token = await ca.token('foo', 'sleep');
    const client = ca.client();
    const names = Array.from({ length: 1000 }, () => `signer-${randomBytes(12).toString('hex')}`);
    await Promise.all(
      names.map((certSigner) =>
        assertCallRefused(
          client.createCertificate({ csrPem: 'garbage', token, certSigner }),
          status.INVALID_ARGUMENT,
        ),
      ),
    );
    await assertCallRefused(
      client.createCertificate({ csrPem: 'garbage', token, certSigner: 'meshca/local' }),
      status.INVALID_ARGUMENT,
    );
    await assertCallRefused(client.createCertificate({ csrPem: 'garbage', token }), status.INVALID_ARGUMENT);
    const signErrors = await series(registry, 'citadel_server_csr_sign_err_count');
    assert.deepEqual(
      signErrors.map((s) => [s.labels.error, s.labels.signer, s.value]),
      [
        ['PKI_CSR_MALFORMED', UNKNOWN_SIGNER, 1000],
        ['PKI_CSR_MALFORMED', 'meshca/local', 1],
        ['PKI_CSR_MALFORMED', '', 1],
      ],
    );
    const scraped = await (await fetch(`http://127.0.0.1:${ca.server.monitoringPort}/metrics`)).text();
    assert.ok(!names.some((n) => scraped.includes(n)), 'no caller-chosen signer name reaches /metrics');
  });

  test('a 500 KB URI SAN: PERMISSION_DENIED with a short message, and short log lines', async () => {
    const key = await generateKey('ec-p256');
    const uri = `spiffe://cluster.local/ns/foo/sa/${'a'.repeat(HUGE)}`;
    const csrPem = buildWorkloadCsr({ key, uri });
    let err: CaCallError | undefined;
    const lines = await logsOf(ca, async () => {
      err = await assertCallRefused(
        ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') }),
        status.PERMISSION_DENIED,
      );
    });
    assert.ok(err!.message.length < LINE_BOUND, `status message of ${err!.message.length} characters`);
    assert.match(
      err!.message,
      // The caller's URI is capped where it is quoted; the rest of the message stays whole.
      /the CSR asks for identity spiffe:\/\/cluster\.local\/ns\/foo\/sa\/a+…\(\d+ more\) but the caller is spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep;/,
    );
    const logged = lines.find((l) => l.msg === 'certificate refused');
    assert.equal(logged?.code, 'RA_IDENTITY_MISMATCH');
    assert.equal(logged?.reason, err!.message.replace(/^the CA answered PERMISSION_DENIED: /, ''));
  });

  test('a 500 KB CertSigner and a 4 KB ClusterID are logged capped', async () => {
    const certSigner = `s${'b'.repeat(HUGE)}`;
    const clusterId = 'c'.repeat(4000);
    const lines = await logsOf(ca, async () => {
      await assertCallRefused(
        ca.client().createCertificate({
          csrPem: 'garbage',
          token: await ca.token('foo', 'sleep'),
          certSigner,
          clusterId,
        }),
        status.INVALID_ARGUMENT,
      );
    });
    const logged = lines.find((l) => l.msg === 'certificate refused');
    assert.equal(logged?.certSigner, capCallerText(certSigner));
    assert.equal(logged?.clusterId, capCallerText(clusterId));
  });

  test('citadel_server_csr_parsing_err_count counts CSRs that do not parse, and only those', async () => {
    const token = await ca.token('foo', 'sleep');
    const client = ca.client();
    const before = await total(registry, 'citadel_server_csr_parsing_err_count');
    await assertCallRefused(client.createCertificate({ csrPem: 'garbage', token }), status.INVALID_ARGUMENT);
    await assertCallRefused(client.createCertificate({ csrPem: '', token }), status.INVALID_ARGUMENT);
    assert.equal(await total(registry, 'citadel_server_csr_parsing_err_count'), before + 2);
    // A CSR that parses but is refused (another identity, TTL too long) is a sign error, not a parsing one.
    const other = await workloadCsr('foo', 'httpbin');
    await assertCallRefused(
      client.createCertificate({ csrPem: other.csrPem, token }),
      status.PERMISSION_DENIED,
    );
    const own = await workloadCsr('foo', 'sleep');
    await assertCallRefused(
      client.createCertificate({ csrPem: own.csrPem, token, ttlSeconds: 1e9 }),
      status.INVALID_ARGUMENT,
    );
    await client.createCertificate({ csrPem: own.csrPem, token });
    assert.equal(await total(registry, 'citadel_server_csr_parsing_err_count'), before + 2);
  });

  test("Node's process metrics are on the server's registry and /metrics, not on prom-client's global one", async () => {
    const scraped = await (await fetch(`http://127.0.0.1:${ca.server.monitoringPort}/metrics`)).text();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_version_info',
      'citadel_server_csr_parsing_err_count',
      'citadel_server_id_extraction_err_count',
    ]) {
      assert.match(scraped, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.equal(globalRegistry.getSingleMetric('process_cpu_user_seconds_total'), undefined);
    // A second server in the same process has them too.
    const second = await startFixtureServer();
    try {
      assert.ok(second.server.metricsRegistry.getSingleMetric('process_cpu_user_seconds_total'));
    } finally {
      await second.close();
    }
  });
});

describe('caller identity extraction', () => {
  const ISSUER = 'https://idp.example.test';
  let ca: CaServerFixture;
  let sign: (claims: Record<string, unknown>, expiresIn?: string) => Promise<string>;
  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'k1', use: 'sig' };
    sign = (claims, expiresIn = '1h') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience('istio-ca')
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(privateKey);
    ca = await startFixtureServer({
      trustedIssuers: [{ issuer: ISSUER, audiences: ['istio-ca'], jwks: { keys: [jwk] } }],
    });
  });
  after(() => ca.close());

  test('citadel_server_id_extraction_err_count counts authentic credentials that name no workload', async () => {
    const registry = ca.server.metricsRegistry;
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const client = ca.client();
    const cases: [string, Record<string, unknown>, string, number][] = [
      ['a user, not a service account', { sub: 'user:alice' }, 'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT', 1],
      ['no subject', {}, 'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT', 1],
      [
        'claims that contradict the subject',
        { sub: 'system:serviceaccount:foo:sleep', 'kubernetes.io': { namespace: 'bar' } },
        'IDENTITY_TOKEN_CLAIMS_MISMATCH',
        1,
      ],
      ['a service account (issued)', { sub: 'system:serviceaccount:foo:sleep' }, '', 0],
    ];
    for (const [name, claims, code, extraction] of cases) {
      const before = {
        extraction: await total(registry, 'citadel_server_id_extraction_err_count'),
        authn: await total(registry, 'citadel_server_authentication_failure_count'),
      };
      const token = await sign(claims);
      if (code) {
        await assertCallRefused(client.createCertificate({ csrPem, token }), status.UNAUTHENTICATED);
        assert.equal(ca.logs.filter((l) => l.msg === 'authentication failed').at(-1)?.code, code, name);
      } else {
        await client.createCertificate({ csrPem, token });
      }
      assert.equal(
        await total(registry, 'citadel_server_id_extraction_err_count'),
        before.extraction + extraction,
        name,
      );
      assert.equal(
        await total(registry, 'citadel_server_authentication_failure_count'),
        before.authn + extraction,
        name,
      );
    }
    // Credentials that do not authenticate at all are authentication failures, not id extraction errors.
    const before = await total(registry, 'citadel_server_id_extraction_err_count');
    await assertCallRefused(
      client.createCertificate({ csrPem, token: await sign({ sub: 'user:alice' }, '-2h') }),
      status.UNAUTHENTICATED,
    );
    await assertCallRefused(client.createCertificate({ csrPem, token: 'not.a.jwt' }), status.UNAUTHENTICATED);
    await assertCallRefused(client.createCertificate({ csrPem }), status.UNAUTHENTICATED);
    assert.equal(await total(registry, 'citadel_server_id_extraction_err_count'), before);
  });
});

const DOMAIN = 'clusterissuers.cert-manager.io';

describe('RA mode', () => {
  let ca: CaServerFixture;
  let roots: Record<string, string>;
  before(async () => {
    ({ ca, roots } = await startTaskRegistrationAuthority());
  });
  after(() => ca?.close());

  test('sign errors are labelled with the configured signer asked for (bare or full name), else "unknown"', async () => {
    const client = ca.client({ rootsPem: roots['istio-system'] });
    const foo = await workloadCsr('foo', 'sleep');
    const fooToken = await ca.token('foo', 'sleep');
    for (const certSigner of ['bar', `${DOMAIN}/bar`]) {
      await assertCallRefused(
        client.createCertificate({ csrPem: foo.csrPem, token: fooToken, certSigner }),
        status.PERMISSION_DENIED,
      );
    }
    const baz = await workloadCsr('baz', 'sleep');
    const bazToken = await ca.token('baz', 'sleep');
    const names = Array.from(
      { length: 100 },
      (_, i) => (i % 2 ? `${DOMAIN}/` : '') + `x${randomBytes(8).toString('hex')}`,
    );
    await Promise.all(
      names.map((certSigner) =>
        assertCallRefused(
          client.createCertificate({ csrPem: baz.csrPem, token: bazToken, certSigner }),
          status.INTERNAL,
        ),
      ),
    );
    const signErrors = await series(ca.server.metricsRegistry, 'citadel_server_csr_sign_err_count');
    assert.deepEqual(
      signErrors.map((s) => [s.labels.error, s.labels.signer, s.value]),
      [
        ['MESH_SIGNER_NOT_ALLOWED', `${DOMAIN}/bar`, 2],
        ['RA_UNKNOWN_SIGNER', UNKNOWN_SIGNER, 100],
      ],
    );
  });

  test('a 500 KB CertSigner: short status messages and short log lines, whichever layer refuses it', async () => {
    const client = ca.client({ rootsPem: roots['istio-system'] });
    const certSigner = `${DOMAIN}/${'q'.repeat(HUGE)}`;
    for (const [namespace, code, grpcCode] of [
      ['baz', 'RA_UNKNOWN_SIGNER', status.INTERNAL],
      ['foo', 'MESH_SIGNER_NOT_ALLOWED', status.PERMISSION_DENIED],
    ] as const) {
      const { csrPem } = await workloadCsr(namespace, 'sleep');
      let err: CaCallError | undefined;
      const lines = await logsOf(ca, async () => {
        err = await assertCallRefused(
          client.createCertificate({ csrPem, token: await ca.token(namespace, 'sleep'), certSigner }),
          grpcCode,
        );
      });
      assert.ok(
        err!.message.length < LINE_BOUND,
        `${code}: a status message of ${err!.message.length} characters`,
      );
      assert.equal(lines.find((l) => l.msg === 'certificate refused')?.code, code);
    }
  });
});

test('the monitoring port takes connection limits: half a request line is dropped in bounded time', async () => {
  const server = await startMonitoringServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    ready: () => ({ ok: true }),
    limits: { headersTimeoutMs: 200, requestTimeoutMs: 400, checkIntervalMs: 50 },
  });
  const socket = connect({ host: '127.0.0.1', port: server.port });
  try {
    socket.on('error', () => {});
    socket.resume(); // read the 408, so the server's FIN is seen
    socket.write('GET /hea');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still open after 10 s')), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    socket.destroy();
    await server.close();
  }
});
