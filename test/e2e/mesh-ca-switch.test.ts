// Workloads end to end: the operator swaps the CA's plugged-in files under a running mesh. A new
// intermediate from the same root, then a new root (with the old one kept in root-cert.pem for the
// overlap): the CA hot-reloads, and the agents pick each change up on their next renewal.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeFileAtomic } from '../../src/lib/atomic-file.js';
import {
  certSerial,
  DEADLINE_MS,
  httpGet,
  type Mesh,
  normalizeSerial,
  readChainFacts,
  servedLeafSerial,
  startMesh,
} from '../support/mesh-workloads.js';
import { runMeshcaOk } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

/** Waits until the agent's files satisfy `ok` and its proxy serves that certificate. */
async function waitForFiles(
  dir: string,
  what: string,
  ok: (facts: Awaited<ReturnType<typeof readChainFacts>>) => boolean,
  mesh: Mesh,
) {
  const facts = await waitFor(`${dir}: ${what}`, async () => {
    const facts = await readChainFacts(dir);
    return ok(facts) ? facts : undefined;
  });
  const sidecar = dir === mesh.httpbin.dir ? mesh.httpbin : mesh.sleep;
  await sidecar.waitForProxyToServe(facts.leafSerial);
  return facts;
}

describe('workloads: switching the CA under a running mesh', { timeout: 180_000 }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh({ name: 'switch', ttl: '20s' });
  });
  after(async () => {
    await mesh?.close();
  });

  test('a new intermediate, then a new root, reach the agents on their next renewal', async () => {
    const dirs = [mesh.httpbin.dir, mesh.sleep.dir];
    const firstRootPem = await readFile(join(mesh.rootDir, 'root-cert.pem'), 'utf8');
    const firstRoot = await certSerial(join(mesh.rootDir, 'root-cert.pem'));
    const firstIntermediate = await certSerial(join(mesh.cacertsDir, 'ca-cert.pem'));
    for (const dir of dirs) {
      const facts = await readChainFacts(dir);
      assert.equal(facts.intermediateSerial, firstIntermediate);
      assert.deepEqual(facts.rootSerials, [firstRoot]);
    }

    // 1. A new intermediate from the same root, written over the CA's cacerts directory.
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--force', '--dir', mesh.rootDir]);
    const secondIntermediate = await certSerial(join(mesh.cacertsDir, 'ca-cert.pem'));
    assert.notEqual(secondIntermediate, firstIntermediate);
    const reloaded = await mesh.ca.waitForLog(
      (l) => l.event === 'ca-reloaded' && normalizeSerial(String(l.serial)) === secondIntermediate,
      DEADLINE_MS,
    );
    assert.equal(normalizeSerial(String(reloaded.previousSerial)), firstIntermediate);
    assert.equal(reloaded.rootChanged, false);
    for (const dir of dirs) {
      const facts = await waitForFiles(
        dir,
        'a certificate from the new intermediate',
        (f) => f.intermediateSerial === secondIntermediate,
        mesh,
      );
      assert.equal(facts.rootsPem, firstRootPem, 'the trust bundle is unchanged');
    }
    const sameRoot = await httpGet(mesh.outboundPort, '/status/200');
    assert.equal(sameRoot.status, 200, sameRoot.body);

    // 2. A new root and intermediate. root-cert.pem holds both roots while workloads move over.
    const newRootDir = join(mesh.dir, 'new-root');
    await runMeshcaOk(['certs', 'root-ca', '--dir', newRootDir]);
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--dir', newRootDir]);
    const newRootPem = await readFile(join(newRootDir, 'root-cert.pem'), 'utf8');
    const newRoot = await certSerial(join(newRootDir, 'root-cert.pem'));
    const thirdIntermediate = await certSerial(join(newRootDir, 'cluster1', 'ca-cert.pem'));
    const bothRoots = `${firstRootPem.trimEnd()}\n${newRootPem.trimEnd()}\n`;
    // The agents must trust the CA's next serving certificate, which chains to the new root.
    await writeFileAtomic(mesh.caRootFile, bothRoots);
    // Each file in one rename, root-cert.pem last: every state in between is refused (the key does
    // not match the certificate, or the new intermediate does not chain to the old root alone), so
    // the CA goes from the old bundle straight to the new one.
    for (const file of ['ca-cert.pem', 'cert-chain.pem', 'ca-key.pem']) {
      const content = await readFile(join(newRootDir, 'cluster1', file), 'utf8');
      await writeFileAtomic(join(mesh.cacertsDir, file), content, file === 'ca-key.pem' ? 0o600 : 0o644);
    }
    await writeFileAtomic(join(mesh.cacertsDir, 'root-cert.pem'), bothRoots);
    const rotated = await mesh.ca.waitForLog(
      (l) => l.event === 'ca-reloaded' && normalizeSerial(String(l.serial)) === thirdIntermediate,
      DEADLINE_MS,
    );
    assert.equal(normalizeSerial(String(rotated.previousSerial)), secondIntermediate);
    assert.equal(rotated.rootChanged, true);
    for (const dir of dirs) {
      const facts = await waitForFiles(
        dir,
        'a certificate from the new root, with both roots in root-cert.pem',
        (f) => f.intermediateSerial === thirdIntermediate,
        mesh,
      );
      assert.deepEqual([...facts.rootSerials].sort(), [firstRoot, newRoot].sort());
      assert.equal(facts.rootsPem.trimEnd(), bothRoots.trimEnd());
    }
    for (const sidecar of [mesh.httpbin, mesh.sleep]) {
      assert.ok(
        sidecar.process.logs.some((l) => l.part === 'agent' && l.event === 'root-changed'),
        `${sidecar.dir}: the agent logged the new root of trust`,
      );
      assert.equal(sidecar.process.child.exitCode, null, 'the sidecar was not restarted');
    }
    // Both workloads now hold new-root certificates and trust both roots: mutual TLS works, and
    // what httpbin serves verifies against the new root alone.
    const newRootOnly = await httpGet(mesh.outboundPort, '/status/200');
    assert.equal(newRootOnly.status, 200, newRootOnly.body);
    const httpbinNow = await readChainFacts(mesh.httpbin.dir);
    assert.equal(
      await servedLeafSerial(mesh.httpbin.inboundPort!, mesh.sleep.dir, join(newRootDir, 'root-cert.pem')),
      httpbinNow.leafSerial,
    );
  });
});
