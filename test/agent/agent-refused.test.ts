// When the CA refuses: the agent says why in plain words (the CA's own message), keeps trying at a
// slow pace, and gets its certificate by itself once the token is fixed.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type IssuedEvent, type RetryInfo, startAgent } from '../../src/agent/agent.js';
import type { MeshcaError } from '../../src/errors.js';
import { type CaServerFixture, startFixtureServer } from '../support/ca-server-fixture.js';
import { waitFor } from '../support/wait-for.js';
import { captureLog, healthz, makeWorkspace, metric, scrape } from './agent-fixture.js';

describe('meshca agent refused by the CA', () => {
  let ca: CaServerFixture;
  before(async () => {
    ca = await startFixtureServer();
  });
  after(async () => {
    await ca.close();
  });

  test('an expired token: UNAUTHENTICATED logged, retried; a fresh token in the file is picked up by itself', async () => {
    const expired = await ca.token('foo', 'sleep', { ttlSeconds: 60, now: new Date(Date.now() - 3600_000) });
    const ws = await makeWorkspace(ca, expired);
    const { lines, logger } = captureLog();
    const errors: [MeshcaError, RetryInfo][] = [];
    const agent = await startAgent({ ...ws.options(ca, logger), statusPort: 0, refusedRetryMs: 300 });
    agent.on('error', (err, info) => errors.push([err, info]));
    try {
      const refusal = await waitFor('a logged refusal', () =>
        lines.find((l) => l.event === 'request-failed'),
      );
      assert.equal(refusal.level, 'error');
      assert.equal(
        refusal.msg,
        'certificate request failed: the CA answered UNAUTHENTICATED: request authenticate failure',
      );
      assert.equal(refusal.code, 'CA_CALL_UNAUTHENTICATED');
      assert.equal(refusal.certificateInPlace, false);
      await waitFor('a second attempt', () => errors.length >= 2);
      assert.equal(errors[0]![0].code, 'CA_CALL_UNAUTHENTICATED');
      assert.equal(errors[0]![1].transient, false);
      assert.equal(errors[1]![1].failures, 2);
      assert.equal(existsSync(join(ws.outputDir, 'key.pem')), false, 'nothing written without a certificate');
      const health = await healthz(agent);
      assert.equal(health.status, 503);
      assert.equal(
        health.text,
        'no workload certificate yet; the last request failed: the CA answered UNAUTHENTICATED: request authenticate failure\n',
      );
      // The server logged the real reason; the agent only ever hears Istio's generic wording.
      assert.ok(
        ca.logs.some((l) => l.msg === 'authentication failed' && l.code === 'IDENTITY_TOKEN_EXPIRED'),
      );

      const issued = new Promise<IssuedEvent>((resolve) => agent.once('issued', resolve));
      writeFileSync(ws.tokenFile, `${await ca.token('foo', 'sleep')}\n`);
      const event = await issued;
      assert.equal(event.spiffeId, 'spiffe://cluster.local/ns/foo/sa/sleep');
      assert.ok(existsSync(join(ws.outputDir, 'key.pem')));
      assert.equal((await healthz(agent)).status, 200);
      const page = await scrape(agent);
      const failed = metric(page, 'istio_agent_num_failed_outgoing_requests');
      assert.ok(failed >= 2, `failed requests counted: ${failed}`);
      assert.equal(metric(page, 'istio_agent_num_outgoing_requests'), failed + 1);
      assert.equal(
        metric(page, 'istio_agent_num_outgoing_retries'),
        failed,
        'every request after a failure is a retry',
      );
    } finally {
      await agent.close();
      ws.tmp.remove();
    }
  });

  test("asking for another service account than the token's is PERMISSION_DENIED, with the CA's reason", async () => {
    const ws = await makeWorkspace(ca, await ca.token('foo', 'sleep'));
    const { lines, logger } = captureLog();
    const agent = await startAgent({
      ...ws.options(ca, logger),
      namespace: 'foo',
      serviceAccount: 'httpbin',
      refusedRetryMs: 60_000,
    });
    try {
      const refusal = await waitFor('a logged refusal', () =>
        lines.find((l) => l.event === 'request-failed'),
      );
      assert.equal(
        refusal.msg,
        'certificate request failed: the CA answered PERMISSION_DENIED: the CSR asks for identity spiffe://cluster.local/ns/foo/sa/httpbin but the caller is spiffe://cluster.local/ns/foo/sa/sleep; a workload may only get a certificate for its own identity',
      );
      assert.equal(refusal.code, 'CA_CALL_PERMISSION_DENIED');
      assert.ok((refusal.retryInMs as number) >= 54_000, 'a refusal is retried slowly, not hammered');
      assert.equal(existsSync(join(ws.outputDir, 'cert-chain.pem')), false);
      assert.equal(agent.health().ok, false);
    } finally {
      await agent.close();
      ws.tmp.remove();
    }
  });

  test('a token that names no service account is reported as such, before anything is sent', async () => {
    const ws = await makeWorkspace(ca, 'not-a-jwt');
    const { lines, logger } = captureLog();
    const agent = await startAgent({ ...ws.options(ca, logger), statusPort: 0, refusedRetryMs: 60_000 });
    try {
      const refusal = await waitFor('a logged failure', () =>
        lines.find((l) => l.event === 'request-failed'),
      );
      assert.equal(refusal.code, 'AGENT_TOKEN_NO_IDENTITY');
      assert.match(
        refusal.msg as string,
        new RegExp(
          `^certificate request failed: cannot tell the workload's identity from the token in ${ws.tokenFile}: .*; pass --namespace and --service-account, or use a Kubernetes service-account token$`,
        ),
      );
      const page = await scrape(agent);
      assert.equal(metric(page, 'istio_agent_num_outgoing_requests'), 0, 'nothing went to the CA');
      assert.equal(metric(page, 'istio_agent_num_failed_outgoing_requests'), 0);
    } finally {
      await agent.close();
      ws.tmp.remove();
    }
  });
});
