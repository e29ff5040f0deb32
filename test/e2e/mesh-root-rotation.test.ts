// Workloads end to end: Istio's cacert_rotation scenario with `meshca rotate`, under traffic. The
// root moves A → A+B → B while sleep calls httpbin over STRICT mutual TLS every 100 ms; every step
// is checked with openssl on the files each workload holds, and not one request may fail.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as pause } from 'node:timers/promises';
import { PILOT_AGENT_CA_ROOT } from '../../peers/harness/pilot-agent.js';
import { writeFileAtomic } from '../../src/lib/atomic-file.js';
import {
  certSerial,
  HTTPBIN_ID,
  httpGet,
  type Mesh,
  pemBlocks,
  readChainFacts,
  SLEEP_ID,
  startMesh,
  waitFor,
} from '../support/mesh-workloads.js';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { type RunningPilotAgent, startPilotAgent } from '../support/pilot-agent.js';
import { finishOnceOldRootUnused } from '../support/rotate.js';

/** `meshca args…`, which must succeed; its standard output. */
const meshcaStdout = async (args: string[]) => (await runMeshcaOk(args)).stdout;

/** SHA-256 fingerprints of every certificate in a PEM file, as openssl prints them, sorted. */
async function fingerprints(path: string): Promise<string[]> {
  const blocks = pemBlocks(await readFile(path, 'utf8'));
  const printed = await Promise.all(
    blocks.map((pem) => opensslOk(['x509', '-noout', '-fingerprint', '-sha256'], { input: pem })),
  );
  return printed.map((line) => line.trim()).sort();
}

/** Checks with openssl that the workload's certificate verifies against the roots it holds. */
async function verifiesAgainstOwnRoots(dir: string): Promise<void> {
  const out = await opensslOk([
    'verify',
    '-CAfile',
    join(dir, 'root-cert.pem'),
    '-untrusted',
    join(dir, 'cert-chain.pem'),
    join(dir, 'cert-chain.pem'),
  ]);
  assert.match(out, /: OK$/m);
}

/** Calls httpbin through sleep's sidecar every 100 ms until stopped; counts failures. */
function startTraffic(port: number) {
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await httpGet(port, '/status/200');
        if (res.status === 200) ok++;
        else failures.push(`${new Date().toISOString()} status ${res.status}: ${res.body.slice(0, 200)}`);
      } catch (err) {
        failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await pause(100); // the request rate, not a synchronization
    }
  })();
  return {
    failures,
    ok: () => ok,
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('root rotation A → A+B → B with meshca rotate, under traffic', { timeout: 300_000 }, () => {
  let mesh: Mesh;
  /** A third workload whose certificate agent is Istio's own pilot-agent, unmodified. */
  let istioAgent: RunningPilotAgent;
  const ISTIO_AGENT_ID = 'spiffe://cluster.local/ns/foo/sa/istio-agent';
  before(async () => {
    mesh = await startMesh({ name: 'rotate', ttl: '20s' });
    istioAgent = await startPilotAgent({
      dir: mesh.dir,
      caAddress: `127.0.0.1:${mesh.caPort}`,
      caRootPem: await readFile(mesh.caRootFile, 'utf8'),
      token: await meshcaStdout([
        'token',
        '-n',
        'foo',
        '--service-account',
        'istio-agent',
        '--data-dir',
        mesh.dataDir,
      ]),
      namespace: 'foo',
      serviceAccount: 'istio-agent',
      secretTtl: '20s',
    });
    await istioAgent.waitForFiles();
  });
  after(async () => {
    await istioAgent?.stop();
    await mesh?.close();
  });

  const rotate = (...args: string[]) => runMeshca(['rotate', ...args, '--data-dir', mesh.dataDir]);
  const status = async () => (await rotate('status')).stdout;

  test("staged, confirmed (Istio's pilot-agent included), and no request fails", async () => {
    const workloads = [mesh.httpbin.dir, mesh.sleep.dir, istioAgent.outputDir];
    const rootA = await fingerprints(join(mesh.rootDir, 'root-cert.pem'));
    const nextDir = join(mesh.dir, 'certs-next');
    await meshcaStdout(['certs', 'root-ca', '--dir', nextDir]);
    await meshcaStdout(['certs', 'intermediate', 'cluster1', '--dir', nextDir]);
    const rootB = await fingerprints(join(nextDir, 'root-cert.pem'));
    const intermediateB = await certSerial(join(nextDir, 'cluster1', 'ca-cert.pem'));
    const both = [...rootA, ...rootB].sort();
    const holding = async (dir: string, roots: string[]) =>
      JSON.stringify(await fingerprints(join(dir, 'root-cert.pem'))) === JSON.stringify(roots);

    for (const dir of workloads) assert.ok(await holding(dir, rootA), `${dir} trusts A`);
    const traffic = startTraffic(mesh.outboundPort);
    try {
      // Misuse first: each refused with its reason, nothing changed.
      const early = await rotate('activate');
      assert.equal(early.code, 2, early.stderr);
      assert.match(early.stderr, /there is no prepared rotation to activate/);
      const same = await rotate('prepare', '--new-cacerts', mesh.cacertsDir);
      assert.equal(same.code, 2, same.stderr);
      assert.match(same.stderr, /is one the CA already trusts; give a bundle with a new root/);

      // prepare: every issuance now hands out A + B; A's intermediate keeps signing.
      const prepared = await rotate('prepare', '--new-cacerts', join(nextDir, 'cluster1'));
      assert.equal(prepared.code, 0, prepared.stderr);
      assert.match(prepared.stdout, /applied it/);
      assert.deepEqual(await fingerprints(join(mesh.dataDir, 'root-cert.pem')), both);
      const twice = await rotate('prepare', '--new-cacerts', join(nextDir, 'cluster1'));
      assert.equal(twice.code, 2);
      assert.match(twice.stderr, /a rotation is already prepared/);
      // The agents must trust the CA's serving certificate once B's intermediate signs it.
      const caRoots = await readFile(join(mesh.dataDir, 'root-cert.pem'), 'utf8');
      await writeFile(mesh.caRootFile, caRoots);
      await writeFileAtomic(join(istioAgent.workDir, PILOT_AGENT_CA_ROOT), caRoots);
      for (const dir of workloads) {
        await waitFor(`${dir} trusts A and B`, () => holding(dir, both));
        await verifiesAgainstOwnRoots(dir);
      }
      const confirmed = await waitFor('every identity confirmed', async () => {
        const text = await status();
        return /^pending: 0$/m.test(text) && /^confirmed: 3$/m.test(text) ? text : undefined;
      });
      assert.match(confirmed, new RegExp(`^  ${ISTIO_AGENT_ID} `, 'm'));
      assert.match(confirmed, new RegExp(`^  ${SLEEP_ID} `, 'm'));
      assert.match(confirmed, new RegExp(`^  ${HTTPBIN_ID} `, 'm'));
      assert.match(confirmed, /^phase: prepared/m);

      // The phase and the confirmations survive a restart of the CA.
      await mesh.ca.stop('SIGTERM');
      await mesh.restartCa();
      const afterRestart = await status();
      assert.match(afterRestart, /^phase: prepared .*\n.*this phase applied/m);
      assert.match(afterRestart, /^confirmed: 3$/m);
      assert.deepEqual(await fingerprints(join(mesh.dataDir, 'root-cert.pem')), both);

      const tooEarly = await rotate('finish');
      assert.equal(tooEarly.code, 2);
      assert.match(tooEarly.stderr, /prepared but not activated/);

      // activate: B's intermediate signs; trust stays A + B.
      const activated = await rotate('activate');
      assert.equal(activated.code, 0, activated.stderr);
      // Each workload still holds the certificate A's intermediate gave it: finish must wait.
      const oldValid = await rotate('finish');
      assert.equal(oldValid.code, 1, oldValid.stderr);
      assert.match(oldValid.stderr, /certificates issued under the old root are valid until /);
      for (const dir of workloads) {
        await waitFor(`${dir} holds a certificate from B's intermediate`, async () => {
          return (await readChainFacts(dir)).intermediateSerial === intermediateB;
        });
        assert.ok(await holding(dir, both), `${dir} still trusts A and B`);
        await verifiesAgainstOwnRoots(dir);
      }

      // finish, once every certificate issued under A has expired.
      await finishOnceOldRootUnused(rotate, DEADLINE);
      assert.deepEqual(await fingerprints(join(mesh.dataDir, 'root-cert.pem')), rootB);
      for (const dir of workloads) {
        await waitFor(`${dir} trusts B alone`, () => holding(dir, rootB), DEADLINE);
        await verifiesAgainstOwnRoots(dir);
      }
      assert.match(await status(), /^phase: finished/m);
      // A few more requests with B alone on both sides.
      const count = traffic.ok();
      await waitFor('more requests with B alone', () => traffic.ok() >= count + 5);
    } finally {
      await traffic.stop();
    }
    assert.deepEqual(traffic.failures, [], 'no request failed through the whole rotation');
    assert.ok(traffic.ok() > 50, `requests made: ${traffic.ok()}`);
  });
});

const DEADLINE = 90_000;
