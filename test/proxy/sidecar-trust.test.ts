// Who the sidecar refuses: inbound, clients from an unrelated root or a foreign trust domain;
// outbound, servers from an unrelated root, the wrong SPIFFE ID, or nobody listening — each a 503.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Httpbin, startHttpbin } from '../../demo/samples/httpbin.js';
import { fetchThrough } from '../../demo/samples/sleep.js';
import { type Sidecar, startSidecar } from '../../src/proxy/sidecar.js';
import {
  type WorkloadCredentialsWatcher,
  watchWorkloadCredentials,
} from '../../src/proxy/workload-credentials.js';
import { createMeshCa, type MeshCa } from '../support/mesh-certs.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { captureLog, curl, HTTPBIN_ID, makeWorkload, SLEEP_ID, type Workload } from './fixture.js';

const FOREIGN_ID = 'spiffe://other.example/ns/foo/sa/sleep';

describe('sidecar: trust', { timeout: 120_000 }, () => {
  let root: TempDir;
  let ca: MeshCa;
  let rogueCa: MeshCa;
  let sleep: Workload;
  let rogueSleep: Workload;
  let foreignSleep: Workload;
  const watchers: WorkloadCredentialsWatcher[] = [];
  const closers: Array<() => Promise<void>> = [];
  let httpbin: Httpbin;
  let server: Sidecar;
  let rogueServer: Sidecar;
  let client: Sidecar;
  const log = captureLog();

  const watch = (dir: string) => {
    const watcher = watchWorkloadCredentials({ dir });
    watchers.push(watcher);
    return watcher;
  };
  const withClientCert = (workload: Workload, port: number) =>
    curl([
      '-k',
      '--cert',
      workload.cert.certChainPath,
      '--key',
      workload.cert.keyPath,
      `https://127.0.0.1:${port}/html`,
    ]);

  before(async () => {
    root = makeTempDir('meshca-proxy-trust-');
    ca = await createMeshCa(root.file('ca'));
    rogueCa = await createMeshCa(root.file('rogue-ca'), { name: 'rogue' });
    sleep = await makeWorkload(ca, root.path, 'sleep', SLEEP_ID);
    rogueSleep = await makeWorkload(rogueCa, root.path, 'rogue-sleep', SLEEP_ID);
    foreignSleep = await makeWorkload(ca, root.path, 'foreign-sleep', FOREIGN_ID);
    const httpbinWorkload = await makeWorkload(ca, root.path, 'httpbin', HTTPBIN_ID);
    const rogueHttpbin = await makeWorkload(rogueCa, root.path, 'rogue-httpbin', HTTPBIN_ID);
    httpbin = await startHttpbin({ port: 0 });
    server = await startSidecar({
      credentials: watch(httpbinWorkload.dir),
      inbound: { port: 0, appPort: httpbin.port, mode: () => 'STRICT' },
      log: log.log,
    });
    rogueServer = await startSidecar({
      credentials: watch(rogueHttpbin.dir),
      inbound: { port: 0, appPort: httpbin.port, mode: () => 'STRICT' },
    });
    // A port nobody listens on: bind, note, close.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const upstream = (name: string, port: number, expectedSpiffeId?: string) => ({
      name,
      listenPort: 0,
      upstreamHost: '127.0.0.1',
      upstreamPort: port,
      expectedSpiffeId,
    });
    client = await startSidecar({
      credentials: watch(sleep.dir),
      outbound: [
        upstream('good', server.inboundPort!, HTTPBIN_ID),
        upstream('rogue', rogueServer.inboundPort!, HTTPBIN_ID),
        upstream('wrong-id', server.inboundPort!, 'spiffe://cluster.local/ns/foo/sa/ratings'),
        upstream('any-id', server.inboundPort!),
        upstream('dead', deadPort),
      ],
      log: log.log,
    });
  });

  after(async () => {
    await client?.close();
    await rogueServer?.close();
    await server?.close();
    await httpbin?.close();
    for (const watcher of watchers) watcher.close();
    for (const close of closers) await close();
    root.remove();
  });

  it('inbound: accepts a client of the same root and trust domain', async () => {
    const res = await withClientCert(sleep, server.inboundPort!);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Moby-Dick/);
  });

  it('inbound: refuses a client whose chain is from an unrelated root', async () => {
    const res = await withClientCert(rogueSleep, server.inboundPort!);
    assert.notEqual(res.code, 0);
    assert.equal(res.stdout, '');
    const event = await log.waitFor(
      (e) => e['event'] === 'inbound_peer_refused' && /SELF_SIGNED/.test(String(e['reason'])),
    );
    assert.equal(event['peer'], SLEEP_ID);
    assert.equal(
      event['reason'],
      'the client certificate chain does not verify against root-cert.pem: SELF_SIGNED_CERT_IN_CHAIN',
    );
  });

  it('inbound: refuses a client of the same root from another trust domain', async () => {
    const res = await withClientCert(foreignSleep, server.inboundPort!);
    assert.notEqual(res.code, 0);
    const event = await log.waitFor((e) => e['event'] === 'inbound_peer_refused' && e['peer'] === FOREIGN_ID);
    assert.equal(event['reason'], 'trust domain "other.example" is not one of cluster.local');
  });

  it('inbound: trustDomains admits another trust domain', async () => {
    const open = await startSidecar({
      credentials: watchers[0]!,
      inbound: {
        port: 0,
        appPort: httpbin.port,
        mode: () => 'STRICT',
        trustDomains: ['cluster.local', 'other.example'],
      },
    });
    try {
      const res = await withClientCert(foreignSleep, open.inboundPort!);
      assert.equal(res.code, 0, res.stderr);
    } finally {
      await open.close();
    }
  });

  it('outbound: reaches the expected SPIFFE ID', async () => {
    const res = await fetchThrough(client.outboundPorts['good']!, '/html');
    assert.equal(res.status, 200);
  });

  it('outbound: without an expected ID any server chaining to the root is accepted', async () => {
    const res = await fetchThrough(client.outboundPorts['any-id']!, '/html');
    assert.equal(res.status, 200);
  });

  it('outbound: 503 CERTIFICATE_VERIFY_FAILED for a server from an unrelated root', async () => {
    const res = await curl([
      '-w',
      '\n%{http_code}',
      `http://127.0.0.1:${client.outboundPorts['rogue']}/html`,
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(
      res.stdout,
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ' +
        'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end ' +
        '(self-signed certificate in certificate chain)\n503',
    );
    const event = await log.waitFor((e) => e['event'] === 'outbound_upstream_error' && e['name'] === 'rogue');
    assert.equal(event['code'], 'SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('outbound: 503 when the server is not the expected SPIFFE ID', async () => {
    const res = await fetchThrough(client.outboundPorts['wrong-id']!, '/html');
    assert.equal(res.status, 503);
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.equal(
      res.body,
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ' +
        'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end ' +
        `(the upstream presented SPIFFE ID ${HTTPBIN_ID}, expected spiffe://cluster.local/ns/foo/sa/ratings; ` +
        "check the destination's service account or the expected ID)",
    );
  });

  it('outbound: 503 connection refused when nothing listens upstream', async () => {
    const res = await fetchThrough(client.outboundPorts['dead']!, '/html');
    assert.equal(res.status, 503);
    assert.equal(
      res.body,
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure, ' +
        'transport failure reason: delayed connect error: 111 (connection refused)',
    );
  });
});
