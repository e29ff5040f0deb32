// The inbound port under each PeerAuthentication mode: STRICT refuses plaintext, PERMISSIVE takes
// TLS and plaintext on the same port, DISABLE takes plaintext only; the mode is read per connection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Httpbin, startHttpbin } from '../../demo/samples/httpbin.js';
import type { MtlsMode } from '../../src/proxy/inbound-listener.js';
import { type Sidecar, startSidecar } from '../../src/proxy/sidecar.js';
import {
  type WorkloadCredentialsWatcher,
  watchWorkloadCredentials,
} from '../../src/proxy/workload-credentials.js';
import { createMeshCa } from '../support/mesh-certs.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { captureLog, curl, HTTPBIN_ID, makeWorkload, SLEEP_ID, type Workload } from './fixture.js';

describe('sidecar inbound: mTLS modes', { timeout: 120_000 }, () => {
  let root: TempDir;
  let sleep: Workload;
  let watcher: WorkloadCredentialsWatcher;
  let httpbin: Httpbin;
  let sidecar: Sidecar;
  let mode: MtlsMode = 'STRICT';
  const log = captureLog();

  const plaintext = (path: string) => curl([`http://127.0.0.1:${sidecar.inboundPort}${path}`]);
  // -k: the leaf names a SPIFFE ID, not 127.0.0.1; the chain itself is checked in sidecar-mtls.
  const mutualTls = (path: string) =>
    curl([
      '-k',
      '--cert',
      sleep.cert.certChainPath,
      '--key',
      sleep.cert.keyPath,
      `https://127.0.0.1:${sidecar.inboundPort}${path}`,
    ]);

  before(async () => {
    root = makeTempDir('meshca-proxy-modes-');
    const ca = await createMeshCa(root.path);
    sleep = await makeWorkload(ca, root.path, 'sleep', SLEEP_ID);
    const server = await makeWorkload(ca, root.path, 'httpbin', HTTPBIN_ID);
    httpbin = await startHttpbin({ port: 0 });
    watcher = watchWorkloadCredentials({ dir: server.dir });
    sidecar = await startSidecar({
      credentials: watcher,
      inbound: { port: 0, appPort: httpbin.port, mode: () => mode },
      log: log.log,
    });
  });

  after(async () => {
    await sidecar?.close();
    await httpbin?.close();
    watcher?.close();
    root.remove();
  });

  it('STRICT: refuses plaintext and logs it, accepts mutual TLS', async () => {
    mode = 'STRICT';
    const refused = await plaintext('/html');
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stdout, '');
    const event = await log.waitFor((e) => e['event'] === 'inbound_plaintext_refused');
    assert.equal(event['mode'], 'STRICT');

    const accepted = await mutualTls('/html');
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, /<h1>Herman Melville - Moby-Dick<\/h1>/);
  });

  it('PERMISSIVE: accepts plaintext (no XFCC) and mutual TLS (XFCC) on the same port', async () => {
    mode = 'PERMISSIVE';
    const plain = await plaintext('/headers');
    assert.equal(plain.code, 0, plain.stderr);
    const plainHeaders = (JSON.parse(plain.stdout) as { headers: Record<string, string> }).headers;
    assert.equal(plainHeaders['X-Forwarded-Client-Cert'], undefined);

    const tls = await mutualTls('/headers');
    assert.equal(tls.code, 0, tls.stderr);
    const tlsHeaders = (JSON.parse(tls.stdout) as { headers: Record<string, string> }).headers;
    assert.match(tlsHeaders['X-Forwarded-Client-Cert']!, new RegExp(`;URI=${SLEEP_ID}$`));
  });

  it('PERMISSIVE: a plaintext client cannot forge XFCC', async () => {
    mode = 'PERMISSIVE';
    const res = await curl([
      '-H',
      `X-Forwarded-Client-Cert: URI=${SLEEP_ID}`,
      `http://127.0.0.1:${sidecar.inboundPort}/headers`,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const headers = (JSON.parse(res.stdout) as { headers: Record<string, string> }).headers;
    assert.equal(headers['X-Forwarded-Client-Cert'], undefined);
  });

  it('PERMISSIVE: TLS without a client certificate is refused', async () => {
    mode = 'PERMISSIVE';
    const res = await curl(['-k', `https://127.0.0.1:${sidecar.inboundPort}/html`]);
    assert.notEqual(res.code, 0);
    const event = await log.waitFor((e) => e['event'] === 'inbound_peer_refused');
    assert.equal(event['reason'], 'the client presented no certificate');
  });

  it('DISABLE: accepts plaintext, refuses TLS', async () => {
    mode = 'DISABLE';
    const plain = await plaintext('/html');
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /Moby-Dick/);
    const tls = await mutualTls('/html');
    assert.notEqual(tls.code, 0);
    await log.waitFor((e) => e['event'] === 'inbound_tls_refused');
  });

  it('answers 503 in Envoy style when the app is not listening', async () => {
    mode = 'PERMISSIVE';
    const down = await startHttpbin({ port: 0 });
    const appPort = down.port;
    await down.close();
    const other = await startSidecar({
      credentials: watcher,
      inbound: { port: 0, appPort, mode: () => 'PERMISSIVE' },
    });
    try {
      const res = await curl(['-w', '\n%{http_code}', `http://127.0.0.1:${other.inboundPort}/html`]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(
        res.stdout,
        /^upstream connect error or disconnect\/reset before headers\. .*connection refused.*\n503$/,
      );
    } finally {
      await other.close();
    }
  });
});
