// Certificate rotation under load: the agent rewrites the output directory, new connections get the
// new leaf, connections opened before keep working, and outbound presents the new client leaf.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { type Httpbin, startHttpbin } from '../../demo/samples/httpbin.js';
import { fetchThrough } from '../../demo/samples/sleep.js';
import type { Sidecar } from '../../src/proxy/sidecar.js';
import {
  type WorkloadCredentialsWatcher,
  watchWorkloadCredentials,
} from '../../src/proxy/workload-credentials.js';
import { parseXfcc } from '../../src/proxy/xfcc.js';
import {
  createMeshCa,
  issueWorkloadCert,
  type MeshCa,
  type WorkloadCert,
  writeWorkloadFiles,
} from '../support/mesh-certs.js';
import { openssl } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import {
  HTTPBIN_ID,
  makeWorkload,
  nextChange,
  SLEEP_ID,
  startSidecarPair,
  type Workload,
} from './fixture.js';

function leafHash(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

describe('sidecar: credential rotation', { timeout: 120_000 }, () => {
  let root: TempDir;
  let ca: MeshCa;
  let sleep: Workload;
  let server: Workload;
  let sleepCreds: WorkloadCredentialsWatcher;
  let serverCreds: WorkloadCredentialsWatcher;
  let httpbin: Httpbin;
  let serverSidecar: Sidecar;
  let sleepSidecar: Sidecar;
  let keepAlive: https.Agent;

  // A client that holds one connection open across the rotation, as a long-lived peer would.
  const getOverKeepAlive = (path: string) =>
    new Promise<{ status: number; reused: boolean; serial: string }>((resolve, reject) => {
      const req = https.get(
        { host: '127.0.0.1', port: serverSidecar.inboundPort, path, agent: keepAlive },
        (res) => {
          const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, serial }));
        },
      );
      req.on('error', reject);
    });

  const servedSerial = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: serverSidecar.inboundPort,
        cert: sleep.cert.certChainPem,
        key: sleep.cert.keyPem,
        ca: ca.rootCertPem,
        checkServerIdentity: () => undefined,
      });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      });
      socket.once('error', reject);
    });

  const xfccHash = async () => {
    const res = await fetchThrough(sleepSidecar.outboundPorts['httpbin']!, '/headers');
    assert.equal(res.status, 200);
    const headers = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    return parseXfcc(headers['X-Forwarded-Client-Cert']!)[0]!.hash;
  };

  before(async () => {
    root = makeTempDir('meshca-proxy-rotation-');
    ca = await createMeshCa(root.path);
    sleep = await makeWorkload(ca, root.path, 'sleep', SLEEP_ID);
    server = await makeWorkload(ca, root.path, 'httpbin', HTTPBIN_ID);
    sleepCreds = watchWorkloadCredentials({ dir: sleep.dir });
    serverCreds = watchWorkloadCredentials({ dir: server.dir });
    httpbin = await startHttpbin({ port: 0 });
    ({ server: serverSidecar, client: sleepSidecar } = await startSidecarPair({
      server: serverCreds,
      client: sleepCreds,
      appPort: httpbin.port,
    }));
    keepAlive = new https.Agent({
      keepAlive: true,
      maxSockets: 1,
      cert: sleep.cert.certChainPem,
      key: sleep.cert.keyPem,
      ca: ca.rootCertPem,
      checkServerIdentity: () => undefined,
    });
  });

  after(async () => {
    keepAlive?.destroy();
    await sleepSidecar?.close();
    await serverSidecar?.close();
    await httpbin?.close();
    sleepCreds?.close();
    serverCreds?.close();
    root.remove();
  });

  it('serves the new leaf to new connections and keeps old keep-alive connections', async () => {
    const first = await getOverKeepAlive('/html');
    assert.equal(first.status, 200);
    assert.equal(first.serial, server.cert.serialHex);
    assert.equal(await xfccHash(), leafHash(sleep.cert.leafPem));

    const newServer: WorkloadCert = await issueWorkloadCert(ca, { spiffeId: HTTPBIN_ID });
    const newSleep: WorkloadCert = await issueWorkloadCert(ca, { spiffeId: SLEEP_ID });
    assert.notEqual(newServer.serialHex, server.cert.serialHex);
    const serverRotated = nextChange(serverCreds);
    const sleepRotated = nextChange(sleepCreds);
    await writeWorkloadFiles(server.dir, newServer);
    await writeWorkloadFiles(sleep.dir, newSleep);
    assert.equal((await serverRotated).serialHex, newServer.serialHex);
    assert.equal((await sleepRotated).serialHex, newSleep.serialHex);

    const again = await getOverKeepAlive('/html');
    assert.equal(again.status, 200);
    assert.equal(again.reused, true, 'the request went over the connection opened before the rotation');
    assert.equal(again.serial, server.cert.serialHex);

    assert.equal(await servedSerial(), newServer.serialHex);
    // openssl as an independent judge of what a new connection is served.
    const shown = await openssl([
      's_client',
      '-connect',
      `127.0.0.1:${serverSidecar.inboundPort}`,
      '-cert',
      newSleep.leafPath,
      '-cert_chain',
      newSleep.issuersPath,
      '-key',
      newSleep.keyPath,
    ]);
    assert.equal(shown.status, 0, shown.stderr);
    const leafPath = root.file('served-leaf.pem');
    const served = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(shown.stdout)?.[0];
    assert.ok(served, shown.stdout);
    await writeFile(leafPath, served);
    const serial = await openssl(['x509', '-in', leafPath, '-noout', '-serial']);
    assert.equal(serial.stdout.trim(), `serial=${newServer.serialHex}`);
    assert.equal(await readFile(leafPath, 'utf8'), newServer.leafPem);

    // The outbound side now presents sleep's new leaf on its new connections.
    assert.equal(await xfccHash(), leafHash(newSleep.leafPem));
  });
});
