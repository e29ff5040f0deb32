// The istio-ca peer (peers/istio-ca: istiod's CA, CA gRPC service and JWT authenticator, built from
// Istio's own packages) is real: it issues a certificate for a token from meshca's embedded issuer,
// over an intermediate made by meshca's offline CA, that openssl verifies up to the root; and it
// refuses a token signed by another key and one for another audience.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { istioCaArgs, istioCaReadyPort } from '../../peers/harness/istio-ca.js';
import { CaCallError, type CaClient, createCaClient } from '../../src/agent/ca-client.js';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT, INTERMEDIATE_FILES } from '../../src/ca/offline/profile.js';
import { ISSUER_JWKS_FILE, loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { killAfterTests } from '../support/kill-after-tests.js';
import { opensslOk, opensslVerify } from '../support/openssl.js';
import { peerBinary } from '../support/peers.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const bin = peerBinary('istio-ca'); // built before any test starts (or this file fails saying why)

const SPIFFE_ID = 'spiffe://cluster.local/ns/bench/sa/sleep';

/** Resolves with the port of istio-ca's ready line; rejects with its output if it exits first. */
function readyPort(child: ChildProcess, output: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const port = istioCaReadyPort(JSON.parse(line) as Record<string, unknown>);
        if (port) resolve(port);
      } catch {
        // not a JSON line
      }
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`istio-ca exited (${code ?? signal}) before it was ready:\n${output()}`)),
    );
  });
}

describe('istio-ca peer (Istio’s CA server and JWT authenticator)', () => {
  let dir: TempDir;
  let child: ChildProcess;
  let client: CaClient;
  let rootPem: string;
  let issuer: Awaited<ReturnType<typeof loadOrCreateTokenIssuer>>;
  let forger: Awaited<ReturnType<typeof loadOrCreateTokenIssuer>>;
  const csrPem = () =>
    buildWorkloadCsr({
      key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
      uri: SPIFFE_ID,
    });

  before(async () => {
    dir = makeTempDir('meshca-istio-ca-');
    await makeRootCa({ dir: dir.file('certs'), profile: DEFAULT_ROOT });
    // meshca's offline intermediate is Istio's cacerts layout already: ca-cert, ca-key, cert-chain, root-cert.
    await makeIntermediate({ rootDir: dir.file('certs'), cluster: 'istio', profile: DEFAULT_INTERMEDIATE });
    rootPem = dir.read(`certs/istio/${INTERMEDIATE_FILES.root}`);
    issuer = await loadOrCreateTokenIssuer(dir.file('issuer'));
    // Same issuer name, another key: what a forger without meshca's key could sign.
    forger = await loadOrCreateTokenIssuer(dir.file('forger'));
    let output = '';
    child = killAfterTests(
      spawn(
        bin,
        istioCaArgs({
          cacertsDir: dir.file('certs/istio'),
          jwksFile: dir.file(`issuer/${ISSUER_JWKS_FILE}`),
        }),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-16_384);
    });
    const port = await readyPort(child, () => output);
    client = createCaClient({ address: `127.0.0.1:${port}`, rootsPem: rootPem });
  });

  after(() => {
    client?.close();
    child?.kill('SIGTERM');
    dir?.remove();
  });

  test('issues a leaf for a token of meshca’s issuer that openssl verifies up to the root, with the SPIFFE ID', async () => {
    const token = await issuer.mint({ namespace: 'bench', serviceAccount: 'sleep', ttlSeconds: 600 });
    const chain = await client.createCertificate({ csrPem: csrPem(), token, deadlineMs: 30_000 });
    // Istio's answer: the leaf, its cert-chain.pem (the intermediate, then the root), and the root again last.
    assert.ok(chain.length >= 3, `a chain of ${chain.length}`);
    assert.equal(chain.at(-1)!.trim(), rootPem.trim());
    const verdict = await opensslVerify(dir, {
      roots: [rootPem],
      intermediates: chain.slice(1, -1),
      leaf: chain[0]!,
    });
    assert.ok(verdict.ok, verdict.output);
    const text = await opensslOk(['x509', '-noout', '-ext', 'subjectAltName'], { input: chain[0]! });
    assert.match(text, new RegExp(`URI:${SPIFFE_ID.replaceAll('/', '\\/')}`));
  });

  test('refuses a token signed by another key, and one for another audience', async () => {
    const forged = await forger.mint({ namespace: 'bench', serviceAccount: 'sleep', ttlSeconds: 600 });
    const otherAudience = await issuer.mint({
      namespace: 'bench',
      serviceAccount: 'sleep',
      ttlSeconds: 600,
      audience: 'not-istio-ca',
    });
    for (const token of [forged, otherAudience]) {
      await assert.rejects(
        client.createCertificate({ csrPem: csrPem(), token, deadlineMs: 30_000 }),
        (err: unknown) => err instanceof CaCallError && err.code === 'CA_CALL_UNAUTHENTICATED',
      );
    }
  });
});
