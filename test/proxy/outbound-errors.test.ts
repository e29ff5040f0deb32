// The outbound 503 texts for real upstream failures: a server that sends no intermediate, an
// openssl s_server that refuses our client certificate, and a server that drops the connection.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { fetchThrough } from '../../demo/samples/sleep.js';
import { freePort } from '../../peers/harness/free-port.js';
import { type Sidecar, startSidecar } from '../../src/proxy/sidecar.js';
import {
  type WorkloadCredentialsWatcher,
  watchWorkloadCredentials,
} from '../../src/proxy/workload-credentials.js';
import { createMeshCa, issueWorkloadCert } from '../support/mesh-certs.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { HTTPBIN_ID, makeWorkload, SLEEP_ID } from './fixture.js';

const PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason:';

function listening(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

describe('sidecar outbound: Envoy-style 503s', { timeout: 120_000 }, () => {
  let root: TempDir;
  let watcher: WorkloadCredentialsWatcher;
  let sidecar: Sidecar;
  let leafOnly: tls.Server;
  let dropper: net.Server;
  let sServer: ChildProcess | undefined;

  before(async () => {
    root = makeTempDir('meshca-proxy-outbound-errors-');
    const ca = await createMeshCa(root.path);
    const rogueCa = await createMeshCa(root.file('rogue-ca'), { name: 'rogue' });
    const sleep = await makeWorkload(ca, root.path, 'sleep', SLEEP_ID);
    const server = await issueWorkloadCert(ca, { spiffeId: HTTPBIN_ID });

    // Sends its leaf without the intermediate, so the client cannot build a path to the root.
    leafOnly = tls.createServer({ cert: server.leafPem, key: server.keyPem });
    const leafOnlyPort = await listening(leafOnly);

    // A peer that is not a TLS server at all: accepts, then closes.
    dropper = net.createServer((socket) => socket.destroy());
    const dropperPort = await listening(dropper);

    // openssl's own server, trusting only an unrelated root, refuses our client certificate with an alert.
    const sServerPort = await freePort();
    sServer = spawn(
      'openssl',
      [
        's_server',
        '-accept',
        `127.0.0.1:${sServerPort}`,
        '-cert',
        server.leafPath,
        '-cert_chain',
        server.issuersPath,
        '-key',
        server.keyPath,
        '-Verify',
        '2',
        '-verify_return_error',
        '-CAfile',
        rogueCa.rootCertPath,
        '-www',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      sServer!.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ACCEPT')) resolve();
      });
      sServer!.once('exit', (code) => reject(new Error(`openssl s_server exited with ${code}`)));
    });

    watcher = watchWorkloadCredentials({ dir: sleep.dir });
    const upstream = (name: string, port: number) => ({
      name,
      listenPort: 0,
      upstreamHost: '127.0.0.1',
      upstreamPort: port,
    });
    sidecar = await startSidecar({
      credentials: watcher,
      outbound: [
        upstream('leaf-only', leafOnlyPort),
        upstream('dropper', dropperPort),
        upstream('s_server', sServerPort),
      ],
    });
  });

  after(async () => {
    await sidecar?.close();
    watcher?.close();
    sServer?.kill();
    await new Promise<void>((resolve) => (leafOnly ? leafOnly.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (dropper ? dropper.close(() => resolve()) : resolve()));
    root.remove();
  });

  it('CERTIFICATE_VERIFY_FAILED (unable to verify the first certificate) when the chain is incomplete', async () => {
    const res = await fetchThrough(sidecar.outboundPorts['leaf-only']!, '/html');
    assert.equal(res.status, 503);
    assert.equal(
      res.body,
      `${PREFIX} connection failure, transport failure reason: ` +
        'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end ' +
        '(unable to verify the first certificate)',
    );
  });

  it('the TLS alert of a server that refuses our client certificate', async () => {
    const res = await fetchThrough(sidecar.outboundPorts['s_server']!, '/');
    assert.equal(res.status, 503);
    assert.equal(
      res.body,
      `${PREFIX} connection failure, transport failure reason: ` +
        'TLS_error:|268436504:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA:TLS_error_end (tlsv1 alert unknown ca)',
    );
  });

  it('connection termination when the upstream hangs up', async () => {
    const res = await fetchThrough(sidecar.outboundPorts['dropper']!, '/html');
    assert.equal(res.status, 503);
    assert.match(
      res.body,
      /^upstream connect error or disconnect\/reset before headers\. reset reason: connection termination \(/,
    );
  });
});
