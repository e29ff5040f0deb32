// Workloads end to end: the CA process dies for 30 s. Traffic keeps flowing on the certificates in
// place, the agents count their failed retries, and they recover by themselves when the CA is back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEADLINE_MS,
  httpGet,
  type Mesh,
  metricValue,
  normalizeSerial,
  readChainFacts,
  type Sidecar,
  servedLeafSerial,
  startMesh,
} from '../support/mesh-workloads.js';
import { waitFor } from '../support/wait-for.js';

const OUTAGE_MS = 30_000;
// How long before the end of the outage the later agent's renewal falls: long enough for several
// backed-off retries (100 ms doubling), short enough that the backoff after the CA returns stays
// well inside the 60 s certificates' second half.
const RENEWAL_BEFORE_END_MS = 6_000;

const renewAt = (s: Sidecar) => Date.parse(String(s.issuedLines().at(-1)!.renewAt));

describe('workloads: a 30-second CA outage', { timeout: 240_000 }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh({ name: 'outage', ttl: '60s' });
  });
  after(async () => {
    await mesh?.close();
  });

  test('traffic keeps flowing, the agents retry and then recover without restarts', async () => {
    const sidecars = [mesh.httpbin, mesh.sleep];
    const firstSerials = sidecars.map((s) => s.issuedSerials()[0]!);
    assert.ok(firstSerials.every(Boolean), 'both agents hold a certificate before the outage');
    const servedBefore = (await readChainFacts(mesh.httpbin.dir)).leafSerial;
    assert.equal(servedBefore, firstSerials[0]);

    // Stop the CA so that both agents' renewal time falls inside the outage. Waiting for that moment
    // on the clock is the scenario itself (the renewals come at fixed times), not a guess that
    // something has happened by then.
    const renewals = sidecars.map(renewAt);
    const stopAt = Math.max(...renewals) + RENEWAL_BEFORE_END_MS - OUTAGE_MS;
    await sleep(Math.max(0, stopAt - Date.now()));
    assert.ok(
      Math.min(...renewals) > Date.now() + 2_000,
      'the setup took so long that a renewal came before the outage could start',
    );
    const caPid = mesh.ca.child.pid;
    await mesh.ca.stop('SIGKILL');
    const outageEnd = Date.now() + OUTAGE_MS;

    // The outage lasts OUTAGE_MS on the clock, with a request about every second: its length is the
    // point of the test, so this loop paces itself rather than waiting for a condition.
    let requests = 0;
    while (Date.now() < outageEnd) {
      // A fresh connection from the app each time: sleep's sidecar still reaches httpbin over mTLS.
      const answer = await httpGet(mesh.outboundPort, '/status/200');
      assert.equal(answer.status, 200, `request ${requests} during the outage: ${answer.body}`);
      requests++;
      for (const sidecar of sidecars) {
        assert.equal((await sidecar.healthz()).status, 200, 'the certificate in place is still valid');
      }
      await sleep(Math.min(1_000, Math.max(0, outageEnd - Date.now())));
    }
    assert.ok(requests >= 5, `${requests} requests during the outage`);
    // Still during the outage: each agent has tried, failed, and tried again.
    for (const [i, sidecar] of sidecars.entries()) {
      await waitFor(
        `${sidecar.dir}: a failed request and a retry counted`,
        async () => {
          const text = await sidecar.metrics();
          const failed = metricValue(text, 'istio_agent_num_failed_outgoing_requests') ?? 0;
          return failed > 0 && (metricValue(text, 'istio_agent_num_outgoing_retries') ?? 0) > 0;
        },
        DEADLINE_MS,
      );
      assert.deepEqual(sidecar.issuedSerials(), [firstSerials[i]], 'nothing issued during the outage');
      const failed = sidecar.process.logs.filter((l) => l.event === 'request-failed');
      assert.ok(failed.length > 0);
      for (const line of failed) {
        assert.equal(line.level, 'warn', 'an unreachable CA is retried with backoff, not taken as a refusal');
        assert.equal(line.certificateInPlace, true);
      }
    }
    // A new mutual-TLS handshake during the outage still uses httpbin's current certificate.
    assert.equal(
      await servedLeafSerial(
        mesh.httpbin.inboundPort!,
        mesh.sleep.dir,
        join(mesh.sleep.dir, 'root-cert.pem'),
      ),
      servedBefore,
    );

    // The CA comes back on the same port and data directory; nobody touches the agents.
    const ca = await mesh.restartCa();
    assert.notEqual(ca.child.pid, caPid);
    assert.equal(ca.ready.grpc, `127.0.0.1:${mesh.caPort}`);
    const renewed = await Promise.all(
      sidecars.map(async (sidecar) => {
        const serial = await waitFor(
          `${sidecar.dir}: a new certificate after the outage`,
          () => sidecar.issuedSerials()[1],
        );
        await sidecar.waitForProxyToServe(serial);
        return serial;
      }),
    );
    for (const [i, sidecar] of sidecars.entries()) {
      assert.notEqual(renewed[i], firstSerials[i]);
      assert.equal((await readChainFacts(sidecar.dir)).leafSerial, renewed[i]);
      const issuedByNewCa = await ca.waitForLog(
        (l) => l.msg === 'certificate issued' && normalizeSerial(String(l.serial)) === renewed[i],
        DEADLINE_MS,
      );
      assert.equal(issuedByNewCa.spiffeId, sidecar.issuedLines()[1]!.spiffeId);
      assert.equal(sidecar.process.child.exitCode, null, 'the sidecar was not restarted');
      assert.equal(sidecar.process.logs.filter((l) => l.msg === 'sidecar ready').length, 1);
    }
    const after = await httpGet(mesh.outboundPort, '/status/200');
    assert.equal(after.status, 200, after.body);
    assert.equal(
      await servedLeafSerial(
        mesh.httpbin.inboundPort!,
        mesh.sleep.dir,
        join(mesh.sleep.dir, 'root-cert.pem'),
      ),
      renewed[0],
    );
  });
});
