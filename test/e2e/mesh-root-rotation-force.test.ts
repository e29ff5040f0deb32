// What confirmation prevents: `meshca rotate activate --force` while workloads have not renewed since
// prepare. A sleep replica that starts afterwards gets a certificate from the new intermediate, and
// httpbin, still trusting the old root alone, refuses it, exactly as `status` and `activate` warned.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  certSerial,
  HTTPBIN_ID,
  type Mesh,
  NAMESPACE,
  readChainFacts,
  SLEEP_ID,
  startMesh,
} from '../support/mesh-workloads.js';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';

/** GET /status/200 on a sidecar's mesh port, presenting the certificate in `dir`; the HTTP status. */
async function mutualTlsGet(port: number, dir: string): Promise<number> {
  const [cert, key, ca] = await Promise.all(
    ['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(dir, f), 'utf8')),
  );
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/status/200',
        cert,
        key,
        ca,
        agent: false,
        // The sidecar's certificate names a SPIFFE ID, not a host: the chain is what is checked here.
        checkServerIdentity: () => undefined,
        timeout: 15_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('activate --force before every workload has renewed', { timeout: 180_000 }, () => {
  let mesh: Mesh;
  before(async () => {
    // Long-lived certificates: nobody renews during the test, so both workloads stay pending.
    mesh = await startMesh({ name: 'rotate-force', ttl: '30m' });
  });
  after(async () => {
    await mesh?.close();
  });

  test('status and activate name the pending workloads; forced, a renewed peer is refused by them', async () => {
    const rotate = (...args: string[]) => runMeshca(['rotate', ...args, '--data-dir', mesh.dataDir]);
    const nextDir = join(mesh.dir, 'certs-next');
    await runMeshcaOk(['certs', 'root-ca', '--dir', nextDir]);
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--dir', nextDir]);
    const intermediateB = await certSerial(join(nextDir, 'cluster1', 'ca-cert.pem'));
    const prepared = await rotate('prepare', '--new-cacerts', join(nextDir, 'cluster1'));
    assert.equal(prepared.code, 0, prepared.stderr);

    const httpbinNotAfter = (await readChainFacts(mesh.httpbin.dir)).leafNotAfter;
    const sleepNotAfter = (await readChainFacts(mesh.sleep.dir)).leafNotAfter;
    const lastDeadline = new Date(Math.max(httpbinNotAfter.getTime(), sleepNotAfter.getTime()));
    const status = (await rotate('status')).stdout;
    assert.match(status, /^pending: 2$/m);
    assert.match(
      status,
      new RegExp(
        `^  ${HTTPBIN_ID} \\(last certificate .*, valid until ${httpbinNotAfter.toISOString()}\\)$`,
        'm',
      ),
    );
    assert.match(
      status,
      new RegExp(
        `^  ${SLEEP_ID} \\(last certificate .*, valid until ${sleepNotAfter.toISOString()}\\)$`,
        'm',
      ),
    );
    assert.match(
      status,
      new RegExp(`^the last pending identity must have renewed by ${lastDeadline.toISOString()}$`, 'm'),
    );

    const refused = await rotate('activate');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /2 workload identities have not received the new root yet:/);
    assert.match(refused.stderr, new RegExp(`^  ${HTTPBIN_ID} `, 'm'));
    assert.match(refused.stderr, /run activate again then, or "activate --force" to break them/);

    const forced = await rotate('activate', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(
      forced.stderr,
      /^warning: activated by force\. These identities trust only the old root until they renew/,
    );
    assert.match(forced.stderr, new RegExp(`^  ${HTTPBIN_ID} `, 'm'));
    assert.match(forced.stdout, /applied it/);
    assert.match(
      (await rotate('status')).stdout,
      new RegExp(`^activated by force past: .*${HTTPBIN_ID}`, 'm'),
    );

    // A sleep replica starting now: its certificate comes from the new intermediate.
    const replica = join(mesh.dir, 'sleep-replica');
    await runMeshcaOk([
      'csr',
      '-n',
      NAMESPACE,
      '--service-account',
      'sleep',
      '--token-file',
      mesh.tokens.sleep,
      '--ca-addr',
      `127.0.0.1:${mesh.caPort}`,
      '--ca-root',
      join(mesh.dataDir, 'root-cert.pem'),
      '--out-dir',
      replica,
    ]);
    assert.equal((await readChainFacts(replica)).intermediateSerial, intermediateB);

    // httpbin has not renewed: it trusts the old root alone and refuses the replica ...
    await assert.rejects(mutualTlsGet(mesh.httpbin.inboundPort!, replica));
    const refusal = await mesh.httpbin.process.waitForLog((l) => l.event === 'inbound_peer_refused');
    assert.equal(refusal.peer, SLEEP_ID);
    assert.match(
      String(refusal.reason),
      /^the client certificate chain does not verify against root-cert\.pem/,
    );
    // ... while the sleep that has not renewed either, holding an old-root certificate, still gets in.
    assert.equal(await mutualTlsGet(mesh.httpbin.inboundPort!, mesh.sleep.dir), 200);
  });
});
