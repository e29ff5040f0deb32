// The agent against a real meshca CA on 127.0.0.1: Istio's files, openssl as the judge, renewal
// of short-lived certificates with fresh keys, /healthz and /metrics on the status port.
import assert from 'node:assert/strict';
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type IssuedEvent, startAgent } from '../../src/agent/agent.js';
import { type CaServerFixture, startFixtureServer } from '../support/ca-server-fixture.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { opensslOk, opensslVerify } from '../support/openssl.js';
import { waitFor } from '../support/wait-for.js';
import { captureLog, healthz, makeWorkspace, metric, scrape, type Workspace } from './agent-fixture.js';

describe('meshca agent with a running CA', () => {
  let ca: CaServerFixture;
  before(async () => {
    ca = await startFixtureServer();
  });
  after(async () => {
    await ca.close();
  });

  test("writes Istio's three files for the token's identity: key 0600, chain verified by openssl", async () => {
    const ws: Workspace = await makeWorkspace(ca);
    const { lines, logger } = captureLog();
    // No namespace or service account given: both come from the token's `sub`.
    const agent = await startAgent({ ...ws.options(ca, logger), statusPort: 0 });
    try {
      const issued = await new Promise<IssuedEvent>((resolve) => agent.once('issued', resolve));
      assert.equal(issued.spiffeId, 'spiffe://cluster.local/ns/foo/sa/sleep');
      assert.equal(issued.rootChanged, true, 'the first write puts root-cert.pem in place');
      for (const file of ['cert-chain.pem', 'key.pem', 'root-cert.pem']) {
        assert.ok(lstatSync(join(ws.outputDir, file)).isSymbolicLink(), `${file} points into ..data`);
        assert.equal(readlinkSync(join(ws.outputDir, file)), join('..data', file));
      }
      assert.equal(statSync(join(ws.outputDir, 'key.pem')).mode & 0o777, 0o600);
      assert.equal(statSync(join(ws.outputDir, 'cert-chain.pem')).mode & 0o777, 0o644);

      const chain = pemBlocks(ws.read('cert-chain.pem'));
      const root = ws.read('root-cert.pem');
      assert.equal(`${chain.at(-1)}\n`, root, 'the chain ends with the root, as Istio serves it');
      assert.equal(root, ca.rootsPem().endsWith('\n') ? ca.rootsPem() : `${ca.rootsPem()}\n`);
      const verdict = await opensslVerify(ws.tmp, {
        roots: [root],
        intermediates: chain.slice(1, -1),
        leaf: chain[0]!,
      });
      assert.ok(verdict.ok, verdict.output);
      const text = await opensslOk(['x509', '-noout', '-text', '-serial'], { input: chain[0]! });
      assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep/);
      assert.match(text, new RegExp(`serial=${issued.serialHex}`, 'i'));
      assert.equal(
        await opensslOk(['pkey', '-pubout'], { input: ws.read('key.pem') }),
        await opensslOk(['x509', '-noout', '-pubkey'], { input: chain[0]! }),
        'key.pem is the key of the certificate',
      );
      assert.match(
        await opensslOk(['pkey', '-noout', '-text'], { input: ws.read('key.pem') }),
        /P-256|prime256v1/,
      );

      const health = await healthz(agent);
      assert.equal(health.status, 200);
      assert.equal(
        health.text,
        `ok: spiffe://cluster.local/ns/foo/sa/sleep serial ${issued.serialHex}, valid until ${issued.notAfter.toISOString()}\n`,
      );
      const page = await scrape(agent);
      assert.equal(metric(page, 'istio_agent_num_outgoing_requests'), 1);
      assert.equal(metric(page, 'istio_agent_num_failed_outgoing_requests'), 0);
      assert.equal(metric(page, 'istio_agent_num_outgoing_retries'), 0);
      const expiresIn = metric(page, 'istio_agent_cert_expiry_seconds');
      assert.ok(
        expiresIn > 23 * 3600 && expiresIn <= 24 * 3600 + 1,
        `24h default lifetime, got ${expiresIn}s`,
      );
      const logged = lines.find((l) => l.event === 'issued');
      assert.equal(logged?.serial, issued.serialHex);
      assert.ok(!JSON.stringify(lines).includes('PRIVATE KEY'), 'no key in the log');
    } finally {
      await agent.close();
      ws.tmp.remove();
    }
  });

  test('a 20-second certificate is renewed about every 10 s, each time with a new serial and a new key', async () => {
    const ws = await makeWorkspace(ca);
    const { logger } = captureLog();
    const agent = await startAgent({ ...ws.options(ca, logger), ttlSeconds: 20, keyType: 'ec-p384' });
    const seen: { event: IssuedEvent; key: string; chain: string }[] = [];
    // Read inside the listener: the files are in place when 'issued' fires, the next swap is seconds away.
    agent.on('issued', (event) =>
      seen.push({ event, key: ws.read('key.pem'), chain: ws.read('cert-chain.pem') }),
    );
    try {
      await waitFor('the first certificate and two renewals', () => seen.length >= 3, 60_000);
      const serials = new Set(seen.map((s) => s.event.serialHex));
      const keys = new Set(seen.map((s) => s.key));
      assert.equal(serials.size, seen.length, 'every renewal has a new serial');
      assert.equal(keys.size, seen.length, 'every renewal has a new key');
      for (const { event, chain, key } of seen) {
        const leaf = pemBlocks(chain)[0]!;
        assert.equal(
          await opensslOk(['pkey', '-pubout'], { input: key }),
          await opensslOk(['x509', '-noout', '-pubkey'], { input: leaf }),
        );
        assert.equal(
          event.renewAt.getTime() < event.notAfter.getTime(),
          true,
          'renewal is planned before expiry',
        );
        assert.equal(event.rootChanged, event === seen[0]!.event, 'the root stays the same across renewals');
      }
      assert.ok(agent.health().ok);
    } finally {
      await agent.close();
      ws.tmp.remove();
    }
  });

  test('on the injectable clock, an expired certificate turns /healthz to 503 with why', async () => {
    const ws = await makeWorkspace(ca);
    const { logger } = captureLog();
    let skewMs = 0;
    const agent = await startAgent({
      ...ws.options(ca, logger),
      statusPort: 0,
      now: () => new Date(Date.now() + skewMs),
    });
    try {
      const issued = await new Promise<IssuedEvent>((resolve) => agent.once('issued', resolve));
      assert.equal((await healthz(agent)).status, 200);
      skewMs = 2 * 24 * 3600_000;
      const health = await healthz(agent);
      assert.equal(health.status, 503);
      assert.equal(
        health.text,
        `the certificate ${issued.serialHex} expired at ${issued.notAfter.toISOString()}\n`,
      );
      assert.ok(metric(await scrape(agent), 'istio_agent_cert_expiry_seconds') < -23 * 3600);
    } finally {
      await agent.close();
      ws.tmp.remove();
    }
  });

  test('close() stops renewing: nothing is written afterwards', async () => {
    const ws = await makeWorkspace(ca);
    const { lines, logger } = captureLog();
    const agent = await startAgent({ ...ws.options(ca, logger), ttlSeconds: 3 });
    await new Promise<IssuedEvent>((resolve) => agent.once('issued', resolve));
    await waitFor('the renewal to be scheduled', () => agent.renewalPending());
    await agent.close();
    // Nothing left that could run: no renewal timer, no request in flight.
    assert.equal(agent.renewalPending(), false);
    assert.equal(lines.filter((l) => l.event === 'issued').length, 1);
    ws.tmp.remove();
  });
});
