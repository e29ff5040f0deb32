// Registration-authority mode with Istio's real agent: ISTIO_META_CERT_SIGNER (or the namespace's
// ProxyConfig) picks the signer, the certificate comes from it, and the agent's root-cert.pem holds
// only that signer's root, as meshConfig.caCertificates[].certSigners says.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TASK_SIGNERS, writeTaskRegistrationAuthority } from '../mesh/mesh-fixtures.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { runMeshcaOk, type ServeProcess, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { type RunningPilotAgent, startPilotAgent } from '../support/pilot-agent.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { token } from './fixture.js';

describe(
  "RA mode: Istio's agent gets its signer's certificate and only its signer's root",
  { timeout: 120_000 },
  () => {
    let dir: TempDir;
    let ca: ServeProcess;
    let dataDir: string;
    let roots: Record<string, string>;
    const agents: RunningPilotAgent[] = [];

    before(async () => {
      dir = makeTempDir('meshca-istio-agent-ra-');
      dataDir = join(dir.path, 'data');
      // The task's three self-signed ClusterIssuers, istio.yaml, and ProxyConfigs for foo and bar.
      let config: string;
      ({ roots, config } = await writeTaskRegistrationAuthority(dataDir));
      ca = await startServe(['--config', config, '--data-dir', dataDir]);
    });
    after(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await ca?.stop();
      await dir?.remove();
    });

    async function agent(namespace: string, certSigner: string | undefined) {
      const a = await startPilotAgent({
        dir: dir.path,
        caAddress: `127.0.0.1:${ca.grpcPort}`,
        // PILOT_CERT_PROVIDER=k8s.io/…/istio-system: the CA's TLS certificate chains to istio-system's root.
        caRootPem: (
          await runMeshcaOk(['root-cert', '--config', join(dataDir, 'config'), '--data-dir', dataDir])
        ).stdout,
        token: await token(dataDir, namespace, 'httpbin'),
        namespace,
        serviceAccount: 'httpbin',
        ...(certSigner ? { certSigner } : {}),
      });
      agents.push(a);
      return a;
    }

    /** The agent's leaf is signed by `signer`'s root, and root-cert.pem is that root alone. */
    async function assertFromSigner(
      a: RunningPilotAgent,
      signer: (typeof TASK_SIGNERS)[number],
    ): Promise<void> {
      const files = await a.waitForFiles();
      assert.deepEqual(
        pemBlocks(files.rootsPem),
        pemBlocks(roots[signer]!),
        `root-cert.pem is ${signer}'s root only`,
      );
      await writeFile(join(a.workDir, 'signer-root.pem'), roots[signer]!);
      await writeFile(join(a.workDir, 'leaf.pem'), pemBlocks(files.chainPem)[0]!);
      assert.equal(
        await opensslOk(['verify', '-CAfile', 'signer-root.pem', 'leaf.pem'], { cwd: a.workDir }),
        'leaf.pem: OK\n',
      );
      assert.match(files.leaf.issuer, new RegExp(`CN=${signer} root`));
      for (const other of TASK_SIGNERS.filter((s) => s !== signer)) {
        assert.ok(!files.rootsPem.includes(pemBlocks(roots[other]!)[0]!), `${other}'s root is not given`);
      }
    }

    test('ISTIO_META_CERT_SIGNER=foo in namespace foo: signed by foo, trusts foo only', async () => {
      await assertFromSigner(await agent('foo', 'foo'), 'foo');
      const issued = await ca.waitForLog((l) => l.msg === 'certificate issued' && l.caller === 'foo/httpbin');
      assert.equal(issued.signer, 'clusterissuers.cert-manager.io/foo');
    });

    test('ISTIO_META_CERT_SIGNER=bar in namespace bar: signed by bar, trusts bar only', async () => {
      await assertFromSigner(await agent('bar', 'bar'), 'bar');
    });

    test("no ISTIO_META_CERT_SIGNER in namespace bar: bar's ProxyConfig picks bar", async () => {
      const logsBefore = ca.logs.length;
      const a = await agent('bar', undefined);
      await assertFromSigner(a, 'bar');
      const issued = ca.logs.slice(logsBefore).find((l) => l.msg === 'certificate issued');
      assert.equal(issued?.signer, 'clusterissuers.cert-manager.io/bar');
    });

    test("bar's workload asking for foo is refused (tenancy): nothing written, PERMISSION_DENIED", async () => {
      const a = await agent('bar', 'foo');
      const failure = await a.waitForLog(
        (l) => /^failed to get certificate/.test(String(l.msg)),
        'a refusal',
      );
      assert.match(String(failure.msg), /code = PermissionDenied/);
      assert.deepEqual(await readdir(a.outputDir), []);
    });
  },
);
