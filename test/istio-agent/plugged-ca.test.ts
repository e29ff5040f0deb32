// Istio's real agent (pilot-agent, no Envoy, OUTPUT_CERTS) takes its certificate from `meshca serve`:
// self-signed, and plugged with an intermediate made by `meshca certs` or by openssl with Istio's
// Makefile profile, judged with the seed task's own checks (openssl x509 -text + diff -s, verify).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { makeIstioMakefileBundle } from '../support/istio-makefile-bundle.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { runMeshcaOk, type ServeProcess, startServe } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { type IssuedFiles, startPilotAgent } from '../support/pilot-agent.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { diffS, token, uriSans, x509Text } from './fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const clean of cleanups.reverse()) await clean();
});

async function serve(args: string[], dir: TempDir, env?: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const ca = await startServe(['--data-dir', join(dir.path, 'data'), ...args], env ? { env } : {});
  cleanups.push(async () => {
    await ca.stop();
  });
  return ca;
}

async function agentFor(
  dir: TempDir,
  ca: ServeProcess,
  caRootPem: string,
  extra: { trustDomain?: string; clusterId?: string; env?: Record<string, string> } = {},
) {
  const agent = await startPilotAgent({
    dir: dir.path,
    caAddress: `127.0.0.1:${ca.grpcPort}`,
    caRootPem,
    token: await token(join(dir.path, 'data'), 'foo', 'httpbin'),
    namespace: 'foo',
    serviceAccount: 'httpbin',
    secretTtl: '1h',
    ...extra,
  });
  cleanups.push(() => agent.stop());
  return agent;
}

/**
 * The plug-in task's checks, on the files Istio's agent wrote: its root and the CA certificate in its
 * chain are identical to the plugged ones, and its leaf verifies against the plugged CA and root.
 */
async function checkPluggedTask(files: IssuedFiles, clusterDir: string, cwd: string): Promise<void> {
  const blocks = pemBlocks(files.chainPem);
  assert.ok(blocks.length >= 2, `cert-chain.pem holds the leaf and the CA certificate:\n${files.chainPem}`);
  const agentRoot = await x509Text(files.rootsPem, 'agent-root-cert', cwd);
  const pluggedRoot = await x509Text(await readFile(join(clusterDir, 'root-cert.pem'), 'utf8'), 'root', cwd);
  assert.match(
    diffS(pluggedRoot, agentRoot, cwd),
    /^Files root\.txt and agent-root-cert\.txt are identical$/m,
  );
  const agentCa = await x509Text(blocks[1]!, 'agent-ca-cert', cwd);
  const pluggedCa = await x509Text(await readFile(join(clusterDir, 'ca-cert.pem'), 'utf8'), 'ca-cert', cwd);
  assert.match(diffS(pluggedCa, agentCa, cwd), /^Files ca-cert\.txt and agent-ca-cert\.txt are identical$/m);
  await writeFile(join(cwd, 'leaf.pem'), blocks[0]!);
  // The task's command, process substitution and all.
  const verify = spawnSync(
    'bash',
    [
      '-c',
      `openssl verify -CAfile <(cat '${clusterDir}/ca-cert.pem' '${clusterDir}/root-cert.pem') leaf.pem`,
    ],
    { cwd, encoding: 'utf8' },
  );
  assert.equal(verify.stdout, 'leaf.pem: OK\n', verify.stderr);
  assert.deepEqual(await uriSans('leaf.pem', cwd), ['spiffe://cluster.local/ns/foo/sa/httpbin']);
}

describe("Istio's agent (pilot-agent) against meshca serve", () => {
  test('self-signed CA: the agent writes cert-chain.pem, key.pem and root-cert.pem; openssl verifies; the SAN is its pod identity', async () => {
    const dir = makeTempDir('meshca-istio-agent-self-signed-');
    cleanups.push(dir.remove);
    const ca = await serve([], dir, { TRUST_DOMAIN: 'mesh.example' });
    const rootPem = (await runMeshcaOk(['root-cert', '--data-dir', join(dir.path, 'data')])).stdout;
    const agent = await agentFor(dir, ca, rootPem, { trustDomain: 'mesh.example', clusterId: 'cluster1' });
    const files = await agent.waitForFiles();

    assert.equal(files.rootsPem.trim(), rootPem.trim(), "root-cert.pem is the CA's root");
    const certs = agent.outputDir;
    assert.equal(
      await opensslOk(['verify', '-CAfile', 'root-cert.pem', 'cert-chain.pem'], { cwd: certs }),
      'cert-chain.pem: OK\n',
    );
    assert.deepEqual(await uriSans('cert-chain.pem', certs), ['spiffe://mesh.example/ns/foo/sa/httpbin']);
    const hoursLeft = (Date.parse(files.leaf.validTo) - Date.now()) / 3_600_000;
    assert.ok(hoursLeft > 0.9 && hoursLeft <= 1, `SECRET_TTL=1h gives a 1 h leaf, not ${hoursLeft} h`);
    assert.equal(files.leaf.ca, false);

    const issued = await ca.waitForLog((l) => l.msg === 'certificate issued');
    assert.equal(issued.spiffeId, 'spiffe://mesh.example/ns/foo/sa/httpbin');
    assert.equal(issued.clusterId, 'cluster1', "the agent's ISTIO_META_CLUSTER_ID reaches the CA's log");
    assert.equal(issued.via, 'token');
    assert.equal(issued.ttlSeconds, 3600);
  });

  test('ECC_SIGNATURE_ALGORITHM=ECDSA: the agent sends an EC P-256 CSR and gets its certificate', async () => {
    const dir = makeTempDir('meshca-istio-agent-ecdsa-');
    cleanups.push(dir.remove);
    const ca = await serve([], dir);
    const rootPem = (await runMeshcaOk(['root-cert', '--data-dir', join(dir.path, 'data')])).stdout;
    const agent = await agentFor(dir, ca, rootPem, { env: { ECC_SIGNATURE_ALGORITHM: 'ECDSA' } });
    const files = await agent.waitForFiles();
    assert.equal(files.leaf.publicKey.asymmetricKeyType, 'ec');
    assert.equal(files.leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(
      await opensslOk(['verify', '-CAfile', 'root-cert.pem', 'cert-chain.pem'], { cwd: agent.outputDir }),
      'cert-chain.pem: OK\n',
    );
  });

  test('plugged CA from meshca certs (root-ca, cluster1-cacerts): root and CA certificate identical, verify OK', async () => {
    const dir = makeTempDir('meshca-istio-agent-plugged-');
    cleanups.push(dir.remove);
    const certs = join(dir.path, 'certs');
    await runMeshcaOk(['certs', 'root-ca', '--dir', certs]);
    await runMeshcaOk(['certs', 'cluster1-cacerts', '--dir', certs]);
    const ca = await serve(['--cacerts', join(certs, 'cluster1')], dir);
    const agent = await agentFor(dir, ca, await readFile(join(certs, 'root-cert.pem'), 'utf8'));
    await checkPluggedTask(await agent.waitForFiles(), join(certs, 'cluster1'), dir.path);
  });

  test("plugged CA made by openssl alone with Istio's Makefile profile: the same checks pass", async () => {
    const dir = makeTempDir('meshca-istio-agent-makefile-');
    cleanups.push(dir.remove);
    const bundle = await makeIstioMakefileBundle({ keyBits: 2048 });
    cleanups.push(async () => bundle.remove());
    const ca = await serve(['--cacerts', bundle.clusterDir], dir);
    const agent = await agentFor(dir, ca, await readFile(bundle.rootCert, 'utf8'));
    await checkPluggedTask(await agent.waitForFiles(), bundle.clusterDir, dir.path);
  });
});
