// Istio's agent checks the CA's serving certificate the way Go's TLS does: CA_ADDR by IP needs that IP
// SAN, by name that DNS SAN, and ISTIOD_SAN names the certificate when CA_ADDR is only an address.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runMeshcaOk, type ServeProcess, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import {
  type RunningPilotAgent,
  type StartPilotAgentOptions,
  startPilotAgent,
} from '../support/pilot-agent.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { token } from './fixture.js';

describe("the CA's address as pilot-agent dials it", { timeout: 120_000 }, () => {
  let dir: TempDir;
  let ca: ServeProcess;
  let rootPem: string;
  const agents: RunningPilotAgent[] = [];
  before(async () => {
    dir = makeTempDir('meshca-istio-agent-ca-address-');
    ca = await startServe(['--data-dir', join(dir.path, 'data'), '--host', 'ca.mesh.test']);
    rootPem = (await runMeshcaOk(['root-cert', '--data-dir', join(dir.path, 'data')])).stdout;
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await ca?.stop();
    await dir?.remove();
  });

  async function agent(caAddress: string, extra: Partial<StartPilotAgentOptions> = {}) {
    const a = await startPilotAgent({
      dir: dir.path,
      caAddress,
      caRootPem: rootPem,
      token: await token(join(dir.path, 'data'), 'foo', 'httpbin'),
      namespace: 'foo',
      serviceAccount: 'httpbin',
      ...extra,
    });
    agents.push(a);
    return a;
  }

  test("the serving certificate carries 127.0.0.1, localhost, istiod's name and --host", async () => {
    const served = (
      await opensslOk(['s_client', '-connect', `127.0.0.1:${ca.grpcPort}`, '-alpn', 'h2', '-showcerts'], {
        cwd: dir.path,
      })
    ).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0];
    const san = new X509Certificate(served).subjectAltName ?? '';
    for (const name of [
      'IP Address:127.0.0.1',
      'DNS:localhost',
      'DNS:istiod.istio-system.svc',
      'DNS:ca.mesh.test',
    ])
      assert.ok(san.includes(name), `${name} in ${san}`);
  });

  // Istio's agent checks istiod.istio-system.svc, not "localhost", for any CA_ADDR containing localhost.
  test('CA_ADDR=127.0.0.1:PORT (IP SAN) and CA_ADDR=localhost:PORT (istiod SAN) both get certificates', async () => {
    const [byIp, byName] = await Promise.all([
      agent(`127.0.0.1:${ca.grpcPort}`),
      agent(`localhost:${ca.grpcPort}`),
    ]);
    await Promise.all([byIp.waitForFiles(), byName.waitForFiles()]);
  });

  test('CA_ADDR=ca.mesh.test:PORT, the name given with --host, resolved as a cluster DNS would', async () => {
    const a = await agent(`ca.mesh.test:${ca.grpcPort}`, { hosts: ['ca.mesh.test'] });
    await a.waitForFiles();
  });

  test('CA_ADDR unset: the agent dials discoveryAddress and checks ISTIOD_SAN (the --host name)', async () => {
    const a = await agent(`127.0.0.1:${ca.grpcPort}`, {
      caFromDiscoveryAddress: true,
      caServerName: 'ca.mesh.test',
    });
    await a.waitForFiles();
  });

  test('a name the serving certificate lacks: the agent refuses the CA and writes nothing', async () => {
    const [byName, bySan] = await Promise.all([
      agent(`elsewhere.mesh.test:${ca.grpcPort}`, { hosts: ['elsewhere.mesh.test'] }),
      agent(`127.0.0.1:${ca.grpcPort}`, {
        caFromDiscoveryAddress: true,
        caServerName: 'elsewhere.mesh.test',
      }),
    ]);
    for (const a of [byName, bySan]) {
      const failure = await a.waitForLog(
        (l) => /^failed to get certificate/.test(String(l.msg)),
        'a failed attempt',
      );
      assert.match(String(failure.msg), /certificate is valid for .*not elsewhere\.mesh\.test/);
      assert.deepEqual(await readdir(a.outputDir), []);
    }
  });
});
