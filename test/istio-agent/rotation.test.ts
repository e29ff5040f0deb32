// Istio's real agent renews from meshca: with a short SECRET_TTL it asks again at half the lifetime,
// and after the CA hot-reloads a new intermediate (same root) its next certificate chains to the new one.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { normalizeSerial, pemBlocks } from '../support/mesh-workloads.js';
import { runMeshcaOk, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { startPilotAgent } from '../support/pilot-agent.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { token } from './fixture.js';

const BUNDLE_FILES = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'];
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const clean of cleanups.reverse()) await clean();
});

/** Copies an intermediate's four files over the CA's cacerts directory, each replaced in one rename. */
async function plug(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const file of BUNDLE_FILES) {
    await copyFile(join(from, file), join(to, `.${file}.tmp`));
    await rename(join(to, `.${file}.tmp`), join(to, file));
  }
}

describe("Istio's agent renewing from meshca", { timeout: 120_000 }, () => {
  test('SECRET_TTL=10s renews; after a hot reload to a new intermediate the next certificate chains to it', async () => {
    const dir = makeTempDir('meshca-istio-agent-rotation-');
    cleanups.push(dir.remove);
    const certs = join(dir.path, 'certs');
    await runMeshcaOk(['certs', 'root-ca', '--dir', certs]);
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--dir', certs]);
    await runMeshcaOk(['certs', 'intermediate', 'cluster2', '--dir', certs]);
    const cacerts = join(dir.path, 'cacerts');
    await plug(join(certs, 'cluster1'), cacerts);
    const dataDir = join(dir.path, 'data');
    const ca = await startServe(['--cacerts', cacerts, '--data-dir', dataDir]);
    cleanups.push(async () => {
      await ca.stop();
    });
    const agent = await startPilotAgent({
      dir: dir.path,
      caAddress: `127.0.0.1:${ca.grpcPort}`,
      caRootPem: await readFile(join(certs, 'root-cert.pem'), 'utf8'),
      token: await token(dataDir, 'foo', 'httpbin'),
      namespace: 'foo',
      serviceAccount: 'httpbin',
      secretTtl: '10s',
    });
    cleanups.push(() => agent.stop());

    const first = await agent.waitForFiles();
    const cluster1Ca = await readFile(join(certs, 'cluster1', 'ca-cert.pem'), 'utf8');
    assert.equal(pemBlocks(first.chainPem)[1], pemBlocks(cluster1Ca)[0], 'first leaf is from cluster1');
    const serialOf = (f: { leaf: { serialNumber: string } }) => normalizeSerial(f.leaf.serialNumber);

    // 1. Renewal: a new leaf (new serial) well before the first one expires.
    const renewed = await waitFor(
      'a renewed leaf',
      async () => {
        const now = await agent.readFiles();
        return now && serialOf(now) !== serialOf(first) ? now : undefined;
      },
      30_000,
    );
    assert.ok(Date.parse(renewed.leaf.validFrom) <= Date.now());
    assert.ok(Date.parse(first.leaf.validTo) > Date.now() - 1000, 'renewed before the old leaf expired');

    // 2. The operator plugs cluster2's intermediate (same root); the CA hot-reloads it.
    await plug(join(certs, 'cluster2'), cacerts);
    await ca.waitForLog((l) => l.msg === 'CA bundle reloaded', 30_000);
    const cluster2Ca = await readFile(join(certs, 'cluster2', 'ca-cert.pem'), 'utf8');
    const onCluster2 = await waitFor(
      "a leaf from cluster2's intermediate",
      async () => {
        const now = await agent.readFiles();
        return now && pemBlocks(now.chainPem)[1] === pemBlocks(cluster2Ca)[0] ? now : undefined;
      },
      30_000,
    );
    assert.equal(onCluster2.rootsPem.trim(), (await readFile(join(certs, 'root-cert.pem'), 'utf8')).trim());
    await writeFile(join(dir.path, 'agent-chain.pem'), onCluster2.chainPem);
    const verify = await opensslOk(
      [
        'verify',
        '-CAfile',
        join(certs, 'root-cert.pem'),
        '-untrusted',
        join(certs, 'cluster2', 'ca-cert.pem'),
      ].concat('agent-chain.pem'),
      { cwd: dir.path },
    );
    assert.equal(verify, 'agent-chain.pem: OK\n');
    const generated = agent.logs.filter((l) => l.msg === 'generated new workload certificate').length;
    assert.ok(generated >= 3, `the agent fetched ${generated} certificates, expected at least 3`);
  });
});
