// sleep → its sidecar's outbound port → mutual TLS → httpbin's sidecar (STRICT) → httpbin, the path
// of Istio's mTLS demo, judged by curl and openssl s_client.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Httpbin, startHttpbin } from '../../demo/samples/httpbin.js';
import { fetchThrough } from '../../demo/samples/sleep.js';
import type { Sidecar } from '../../src/proxy/sidecar.js';
import {
  type WorkloadCredentialsWatcher,
  watchWorkloadCredentials,
} from '../../src/proxy/workload-credentials.js';
import { parseXfcc } from '../../src/proxy/xfcc.js';
import { createMeshCa, type MeshCa } from '../support/mesh-certs.js';
import { openssl } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import {
  captureLog,
  curl,
  HTTPBIN_ID,
  makeWorkload,
  SLEEP_ID,
  startSidecarPair,
  type Workload,
} from './fixture.js';

describe('sidecar: sleep → httpbin over mutual TLS (STRICT)', { timeout: 120_000 }, () => {
  let root: TempDir;
  let ca: MeshCa;
  let sleep: Workload;
  let httpbinWorkload: Workload;
  const watchers: WorkloadCredentialsWatcher[] = [];
  let httpbin: Httpbin;
  let httpbinSidecar: Sidecar;
  let sleepSidecar: Sidecar;
  let outboundPort: number;
  const log = captureLog();

  before(async () => {
    root = makeTempDir('meshca-proxy-mtls-');
    ca = await createMeshCa(root.path);
    sleep = await makeWorkload(ca, root.path, 'sleep', SLEEP_ID);
    httpbinWorkload = await makeWorkload(ca, root.path, 'httpbin', HTTPBIN_ID);
    httpbin = await startHttpbin({ port: 0 });
    const httpbinCreds = watchWorkloadCredentials({ dir: httpbinWorkload.dir });
    const sleepCreds = watchWorkloadCredentials({ dir: sleep.dir });
    watchers.push(httpbinCreds, sleepCreds);
    ({
      server: httpbinSidecar,
      client: sleepSidecar,
      outboundPort,
    } = await startSidecarPair({
      server: httpbinCreds,
      client: sleepCreds,
      appPort: httpbin.port,
      log: log.log,
    }));
  });

  after(async () => {
    await sleepSidecar?.close();
    await httpbinSidecar?.close();
    await httpbin?.close();
    for (const watcher of watchers) watcher.close();
    root.remove();
  });

  it('serves /html through both sidecars', async () => {
    const res = await fetchThrough(outboundPort, '/html');
    assert.equal(res.status, 200);
    assert.match(res.body, /<h1>Herman Melville - Moby-Dick<\/h1>/);
  });

  it('curl against the outbound port gets the page too', async () => {
    const result = await curl([`http://127.0.0.1:${outboundPort}/html`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /<h1>Herman Melville - Moby-Dick<\/h1>/);
  });

  it("tells httpbin who called in Envoy's XFCC format, and drops a forged one", async () => {
    const res = await fetchThrough(outboundPort, '/headers', {
      headers: {
        'x-forwarded-client-cert': 'By=spiffe://evil/ns/x/sa/y;URI=spiffe://cluster.local/ns/foo/sa/admin',
      },
    });
    assert.equal(res.status, 200);
    const headers = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    const hash = createHash('sha256').update(new X509Certificate(sleep.cert.leafPem).raw).digest('hex');
    assert.equal(
      headers['X-Forwarded-Client-Cert'],
      `By=${HTTPBIN_ID};Hash=${hash};Subject="";URI=${SLEEP_ID}`,
    );
    assert.deepEqual(parseXfcc(headers['X-Forwarded-Client-Cert']!), [
      { by: HTTPBIN_ID, hash, subject: '', uri: SLEEP_ID },
    ]);
  });

  it('passes status codes through unchanged', async () => {
    const res = await fetchThrough(outboundPort, '/status/418');
    assert.equal(res.status, 418);
  });

  it('serves leaf, intermediate and root to openssl s_client presenting a client certificate', async () => {
    const result = await openssl([
      's_client',
      '-showcerts',
      '-connect',
      `127.0.0.1:${httpbinSidecar.inboundPort}`,
      '-cert',
      sleep.cert.leafPath,
      '-cert_chain',
      sleep.cert.issuersPath,
      '-key',
      sleep.cert.keyPath,
      '-CAfile',
      ca.rootCertPath,
      '-verify_return_error',
    ]);
    assert.equal(result.status, 0, result.stderr);
    const served = [
      ...result.stdout.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g),
    ].map((m) => m[0]);
    assert.deepEqual(served, [
      httpbinWorkload.cert.leafPem,
      ...splitPem(httpbinWorkload.cert.certChainPem).slice(1),
    ]);
    assert.match(result.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(result.stdout, /1 s:O = meshca-test, CN = Intermediate CA/);
    assert.match(result.stdout, /2 s:O = meshca-test, CN = Root CA/);
  });
});

function splitPem(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)].map(
    (m) => m[0],
  );
}
