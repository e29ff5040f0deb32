// `meshca serve` renews a self-signed root that is near its end with the same key (Istio's root
// rotator), and Istio's agent, which trusts only the old root, notices nothing: it still reaches the
// CA, gets a certificate that verifies against the old root, and receives old and new roots.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { runMeshca, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { startPilotAgent } from '../support/pilot-agent.js';
import { token } from './fixture.js';

const DAY = 86_400_000;

describe('self-signed root renewal under a running mesh', { timeout: 120_000 }, () => {
  test('serve renews at start (10% of life left); an agent trusting only the old root keeps working', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-root-renewal-'));
    const data = join(dir, 'data');
    try {
      const made = await loadOrCreateSelfSignedCa({
        dir: join(data, 'ca'),
        trustDomain: 'cluster.local',
        keyType: 'ec-p256',
        days: 10,
        now: new Date(Date.now() - 9 * DAY),
      });
      const oldRoot = made.bundle.rootsPem;
      const ca = await startServe(['--data-dir', data]);
      try {
        const renewed = await ca.waitForLog((l) => l.event === 'root-renewed');
        assert.equal(renewed.roots, 2);
        await ca.waitForLog((l) => l.event === 'ca-reloaded');
        const printed = await runMeshca(['root-cert', '--data-dir', data]);
        assert.equal(pemBlocks(printed.stdout).length, 2, 'the published trust bundle holds old and new');
        assert.ok(printed.stdout.includes(pemBlocks(oldRoot)[0]!));

        const agent = await startPilotAgent({
          dir,
          caAddress: `127.0.0.1:${ca.grpcPort}`,
          caRootPem: oldRoot,
          token: await token(data, 'foo', 'httpbin'),
          namespace: 'foo',
          serviceAccount: 'httpbin',
        });
        try {
          const files = await agent.waitForFiles();
          assert.equal(pemBlocks(files.rootsPem).length, 2, "the agent's root-cert.pem holds both roots");
          await writeFile(join(dir, 'old-root.pem'), oldRoot);
          await writeFile(join(dir, 'leaf.pem'), pemBlocks(files.chainPem)[0]!);
          assert.equal(
            await opensslOk(['verify', '-CAfile', 'old-root.pem', 'leaf.pem'], { cwd: dir }),
            'leaf.pem: OK\n',
          );
        } finally {
          await agent.stop();
        }
        const metrics = await fetch(`http://127.0.0.1:${ca.monitoringPort}/metrics`).then((r) => r.text());
        assert.match(metrics, /^meshca_self_signed_root_renewals_total 1$/m);
      } finally {
        await ca.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
