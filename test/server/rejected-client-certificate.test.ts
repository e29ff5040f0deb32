// A workload renewing with a client certificate the CA does not trust (another CA's, or expired) is
// refused as before, and the CA's log says that its certificate failed verification and why, not
// that the call carried no credentials.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CaCallError } from '../../src/agent/ca-client.js';
import { type CaServerFixture, startFixtureServer, workloadCsr } from '../support/ca-server-fixture.js';

describe('client certificates that fail verification', () => {
  let ca: CaServerFixture;
  let other: CaServerFixture;
  before(async () => {
    [ca, other] = await Promise.all([startFixtureServer(), startFixtureServer()]);
  });
  after(async () => {
    await Promise.all([ca?.close(), other?.close()]);
  });

  test("another CA's certificate: UNAUTHENTICATED, logged as SERVER_CLIENT_CERT_REJECTED with TLS's reason", async () => {
    const first = await workloadCsr('foo', 'sleep');
    const chain = await other
      .client()
      .createCertificate({ csrPem: first.csrPem, token: await other.token('foo', 'sleep') });
    const keyPem = first.key.export({ type: 'pkcs8', format: 'pem' }) as string;
    const renewing = ca.client({ clientCertificate: { certChainPem: chain.join(''), keyPem } });
    const next = await workloadCsr('foo', 'sleep');
    await assert.rejects(renewing.createCertificate({ csrPem: next.csrPem }), (err: unknown) => {
      assert.ok(err instanceof CaCallError);
      assert.equal(err.grpcCode, 16);
      return true;
    });
    const failure = ca.logs.find((l) => l.msg === 'authentication failed');
    assert.equal(failure?.code, 'SERVER_CLIENT_CERT_REJECTED');
    assert.match(
      String(failure?.reason),
      /does not verify against the CA's roots: .*(self.signed|unable to|certificate)/i,
    );
    assert.match(String(failure?.reason), /spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep/);
  });

  test('no certificate and no token is still SERVER_NO_CREDENTIALS', async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    await assert.rejects(ca.client().createCertificate({ csrPem }));
    assert.equal(
      ca.logs.filter((l) => l.msg === 'authentication failed').at(-1)?.code,
      'SERVER_NO_CREDENTIALS',
    );
  });
});
