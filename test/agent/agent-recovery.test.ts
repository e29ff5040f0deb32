// The agent across CA outages and CA changes: files stay in place while the CA is down, retries are
// counted, and it recovers by itself when a CA is back on the same address, even with a new root.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type IssuedEvent, startAgent } from '../../src/agent/agent.js';
import { makePluggedBundle, startFixtureServer } from '../support/ca-server-fixture.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { opensslOk, opensslVerify } from '../support/openssl.js';
import { waitFor } from '../support/wait-for.js';
import { captureLog, makeWorkspace, metric, scrape } from './agent-fixture.js';

const fingerprint = (pem: string) => opensslOk(['x509', '-noout', '-fingerprint', '-sha256'], { input: pem });

describe('meshca agent when the CA goes away', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meshca-agent-ca-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('CA down: files stay, retries are counted; a CA back on the same port and data dir is found by itself', async () => {
    let ca = await startFixtureServer({ dataDir: join(dataDir, 'outage') });
    const port = ca.server.grpcPort;
    const ws = await makeWorkspace(ca);
    const { lines, logger } = captureLog();
    // A 4-second certificate, so renewals fall inside the outage.
    const agent = await startAgent({ ...ws.options(ca, logger), ttlSeconds: 4, statusPort: 0 });
    const issued: IssuedEvent[] = [];
    agent.on('issued', (e) => issued.push(e));
    try {
      await waitFor('the first certificate', () => issued.length >= 1);
      await ca.close();
      // A renewal answered just before the close may still be writing; after a failure nothing is.
      await waitFor('a failed request', () => lines.some((l) => l.event === 'request-failed'));
      const inPlace = {
        chain: ws.read('cert-chain.pem'),
        key: ws.read('key.pem'),
        root: ws.read('root-cert.pem'),
      };
      const countBefore = issued.length;

      const page = await waitFor(
        'three retries while the CA is down',
        async () => {
          const text = await scrape(agent);
          return metric(text, 'istio_agent_num_outgoing_retries') >= 3 && text;
        },
        30_000,
      );
      assert.ok(metric(page, 'istio_agent_num_failed_outgoing_requests') >= 3);
      assert.equal(issued.length, countBefore, 'no certificate while the CA is down');
      assert.deepEqual(
        { chain: ws.read('cert-chain.pem'), key: ws.read('key.pem'), root: ws.read('root-cert.pem') },
        inPlace,
        'the last good files stay in place',
      );
      const warning = lines.find((l) => l.event === 'request-failed');
      assert.equal(warning?.level, 'warn');
      assert.match(
        warning?.msg as string,
        /^cannot reach the CA, retrying with backoff: (the CA answered UNAVAILABLE: |cannot connect to the CA at 127\.0\.0\.1:\d+: nothing listens there)/,
      );
      assert.equal(warning?.code, 'CA_CALL_UNAVAILABLE');
      const delays = lines.filter((l) => l.event === 'request-failed').map((l) => l.retryInMs as number);
      assert.ok(
        delays[0]! >= 50 && delays[0]! <= 100,
        `backoff starts at 100 ms (half of it jitter): ${delays}`,
      );

      ca = await startFixtureServer({
        dataDir: join(dataDir, 'outage'),
        listen: { host: '127.0.0.1', port },
      });
      await waitFor('a certificate from the restarted CA', () => issued.length > countBefore, 30_000);
      const next = issued[countBefore]!;
      assert.equal(next.rootChanged, false, 'same data dir, same root');
      assert.notEqual(ws.read('cert-chain.pem'), inPlace.chain);
      assert.notEqual(ws.read('key.pem'), inPlace.key);
      assert.equal(ws.read('root-cert.pem'), inPlace.root);
      assert.ok(agent.health().ok);
    } finally {
      await agent.close();
      await ca.close();
      ws.tmp.remove();
    }
  });

  test('a CA with a new root: the agent trusts it through its roots file and writes the new root-cert.pem', async () => {
    const dir = join(dataDir, 'rotation');
    const oldCa = await startFixtureServer({ dataDir: dir });
    const port = oldCa.server.grpcPort;
    // The operator's new hierarchy, and a roots file trusting both (as during a root rotation).
    const cluster = await makePluggedBundle(join(dataDir, 'new-pki'));
    const newRoot = await readFile(join(cluster, 'root-cert.pem'), 'utf8');
    const ws = await makeWorkspace(oldCa, undefined, `${oldCa.rootsPem()}\n${newRoot}`);
    const { lines, logger } = captureLog();
    const agent = await startAgent({ ...ws.options(oldCa, logger), ttlSeconds: 4 });
    const issued: IssuedEvent[] = [];
    agent.on('issued', (e) => issued.push(e));
    let newCa: Awaited<ReturnType<typeof startFixtureServer>> | undefined;
    try {
      await waitFor('the first certificate', () => issued.length >= 1);
      const oldRoot = ws.read('root-cert.pem');
      assert.equal(await fingerprint(oldRoot), await fingerprint(oldCa.rootsPem()));
      await oldCa.close();
      // Same data dir (so the same token issuer), same port, the new hierarchy plugged in.
      newCa = await startFixtureServer({
        dataDir: dir,
        listen: { host: '127.0.0.1', port },
        ca: { kind: 'plugged', dir: cluster },
      });
      const changed = await waitFor(
        'an issuance with the new root',
        () => issued.find((e) => e.rootChanged && e !== issued[0]),
        30_000,
      );
      assert.equal(await fingerprint(ws.read('root-cert.pem')), await fingerprint(newRoot));
      const chain = pemBlocks(ws.read('cert-chain.pem'));
      assert.equal(chain.length, 3, 'leaf, the new intermediate, the new root');
      const verdict = await opensslVerify(ws.tmp, {
        roots: [newRoot],
        intermediates: [chain[1]!],
        leaf: chain[0]!,
      });
      assert.ok(verdict.ok, verdict.output);
      assert.equal(
        (await opensslVerify(ws.tmp, { roots: [oldRoot], intermediates: [chain[1]!], leaf: chain[0]! })).ok,
        false,
      );
      assert.match(
        await opensslOk(['x509', '-noout', '-serial'], { input: chain[0]! }),
        new RegExp(changed.serialHex, 'i'),
      );
      const logged = lines.find((l) => l.event === 'root-changed');
      assert.equal(logged?.msg, "the CA's root of trust changed; wrote the new root-cert.pem");
      assert.equal(logged?.level, 'warn');
    } finally {
      await agent.close();
      await newCa?.close();
      ws.tmp.remove();
    }
  });
});
