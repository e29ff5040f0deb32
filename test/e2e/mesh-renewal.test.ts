// Workloads end to end: 20-second certificates renewed about every 10 s under live traffic, and a
// token that cannot be used for another workload's identity. Real processes and real mutual TLS.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DEADLINE_MS,
  HTTPBIN_ID,
  httpGet,
  type Mesh,
  normalizeSerial,
  readChainFacts,
  type Sidecar,
  SLEEP_ID,
  servedLeafSerial,
  snapshotCredentials,
  startMesh,
} from '../support/mesh-workloads.js';
import { runMeshca } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

/** Waits for the agent's `count`-th issuance and for its proxy to load that certificate. */
async function waitForIssuance(sidecar: Sidecar, count: number): Promise<string> {
  const serial = await waitFor(
    `issuance #${count} in ${sidecar.dir}`,
    () => sidecar.issuedSerials()[count - 1],
  );
  await sidecar.waitForProxyToServe(serial);
  return serial;
}

describe('workloads: short-lived certificates renewed under traffic', { timeout: 180_000 }, () => {
  let mesh: Mesh;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let meshKeepAlive: https.Agent | undefined;

  before(async () => {
    mesh = await startMesh({ name: 'renewal', ttl: '20s' });
  });
  after(async () => {
    keepAlive.destroy();
    meshKeepAlive?.destroy();
    await mesh?.close();
  });

  test('the agents renew every ~10 s; a kept-alive connection survives, a new one gets the new certificate', async () => {
    const { httpbin, sleep } = mesh;
    const firstHttpbin = await waitForIssuance(httpbin, 1);
    await waitForIssuance(sleep, 1);
    const issued = httpbin.issuedLines()[0]!;
    assert.equal(issued.spiffeId, HTTPBIN_ID);
    // The CA granted the 20 s the agent asked for.
    const signed = await mesh.ca.waitForLog(
      (l) => l.msg === 'certificate issued' && normalizeSerial(String(l.serial)) === firstHttpbin,
    );
    assert.equal(signed.ttlSeconds, 20);

    // One connection from "the app" to sleep's outbound port, opened before any renewal.
    const opened = await httpGet(mesh.outboundPort, '/headers', keepAlive);
    assert.equal(opened.status, 200, opened.body);
    assert.equal(opened.reusedSocket, false);
    const xfcc = (JSON.parse(opened.body) as { headers: Record<string, string> }).headers[
      'X-Forwarded-Client-Cert'
    ];
    assert.match(xfcc!, new RegExp(`^By=${HTTPBIN_ID};Hash=[0-9a-f]{64};Subject="";URI=${SLEEP_ID}$`));
    // And one mutual-TLS connection straight to httpbin's mesh port with sleep's first certificate.
    const first = await snapshotCredentials(sleep.dir);
    meshKeepAlive = new https.Agent({
      keepAlive: true,
      maxSockets: 1,
      cert: first.chainPem,
      key: first.keyPem,
      ca: first.rootsPem,
      checkServerIdentity: () => undefined, // SPIFFE IDs, not host names; the chain is still verified
    });
    const meshOpened = await httpGet(mesh.httpbin.inboundPort!, '/status/200', meshKeepAlive);
    assert.equal(meshOpened.status, 200, meshOpened.body);
    const servedFirst = await servedLeafSerial(
      mesh.httpbin.inboundPort!,
      sleep.dir,
      join(sleep.dir, 'root-cert.pem'),
    );
    assert.equal(servedFirst, firstHttpbin);

    const seen = [firstHttpbin];
    for (const round of [2, 3]) {
      // Renewal number round-1 of both workloads, each loaded by its proxy.
      const renewed = await waitForIssuance(httpbin, round);
      await waitForIssuance(sleep, round);
      assert.ok(!seen.includes(renewed), `renewal ${round - 1} brought a new serial (${seen} + ${renewed})`);
      seen.push(renewed);

      const again = await httpGet(mesh.outboundPort, '/headers', keepAlive);
      assert.equal(again.status, 200, again.body);
      assert.equal(again.reusedSocket, true, 'the kept-alive connection was reused across the renewal');
      assert.equal(again.localPort, opened.localPort, 'the same connection as before the renewals');
      if (round === 2) {
        // Renewal swaps the certificate for new handshakes only: an established mutual-TLS
        // connection (made with certificates that are still valid) carries on.
        const meshAgain = await httpGet(mesh.httpbin.inboundPort!, '/status/200', meshKeepAlive);
        assert.equal(meshAgain.status, 200, meshAgain.body);
        assert.equal(meshAgain.reusedSocket, true);
        assert.equal(meshAgain.localPort, meshOpened.localPort);
      }

      // A new mutual-TLS connection is served the certificate the agent just wrote (or, should the
      // machine be slow enough for yet another renewal to have happened meanwhile, a later one).
      const served = await servedLeafSerial(
        mesh.httpbin.inboundPort!,
        sleep.dir,
        join(sleep.dir, 'root-cert.pem'),
      );
      const onDisk = (await readChainFacts(httpbin.dir)).leafSerial;
      const issuedSoFar = httpbin.issuedSerials();
      assert.ok(issuedSoFar.indexOf(served) >= round - 1, `served ${served}, issued ${issuedSoFar}`);
      if (onDisk === renewed) assert.equal(served, renewed);
    }
    assert.equal(new Set(mesh.sleep.issuedSerials()).size, mesh.sleep.issuedSerials().length);
    for (const sidecar of [httpbin, sleep]) {
      assert.equal(sidecar.process.child.exitCode, null, 'no sidecar restarted');
      assert.equal((await sidecar.healthz()).status, 200);
    }
  });

  test("a token for foo/sleep cannot get foo/httpbin's identity", async () => {
    const out = await mkdtemp(join(tmpdir(), 'meshca-e2e-denied-'));
    try {
      const result = await runMeshca([
        'agent',
        '--once',
        '--namespace',
        'foo',
        '--service-account',
        'httpbin',
        '--token-file',
        mesh.tokens.sleep,
        '--ca-addr',
        `127.0.0.1:${mesh.caPort}`,
        '--ca-root',
        mesh.caRootFile,
        '--output-dir',
        out,
      ]);
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr.trim(),
        `meshca agent: the CA answered PERMISSION_DENIED: the CSR asks for identity ${HTTPBIN_ID} but the caller is ${SLEEP_ID}; a workload may only get a certificate for its own identity`,
      );
      assert.deepEqual(await readdir(out), [], 'nothing written');
      const refused = await mesh.ca.waitForLog((l) => l.outcome === 'refused', DEADLINE_MS);
      assert.equal(refused.caller, 'foo/sleep');
      assert.equal(refused.code, 'RA_IDENTITY_MISMATCH');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
