// peers/harness/step-ca against a real step-ca: a hierarchy made by meshca's own offline CA functions,
// one CSR signed through the JWK provisioner by the step-ca Signer, openssl as the judge of the chain.
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningStepCa, startStepCa } from '../../peers/harness/step-ca/start-step-ca.js';
import { stepCaJwkIssuer } from '../../peers/harness/step-ca/step-ca-jwk-issuer.js';
import { STEP_CA_FILES } from '../../peers/harness/step-ca/write-step-ca-config.js';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import {
  DEFAULT_INTERMEDIATE,
  DEFAULT_ROOT,
  INTERMEDIATE_FILES,
  ROOT_FILES,
} from '../../src/ca/offline/profile.js';
import { MeshcaError } from '../../src/errors.js';
import type { Signer } from '../../src/issuance/signers/signer.js';
import { createStepCaSigner } from '../../src/issuance/signers/step-ca-signer.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import { opensslOk } from '../support/openssl.js';
import { peerBinary } from '../support/peers.js';

peerBinary('step-ca'); // built before any test starts (or this file fails saying why)

const SPIFFE_ID = 'spiffe://cluster.local/ns/demo/sa/sleep';
const PASSWORD = 'demo password';
const SIGNER = 'stepclusterissuers.certmanager.step.sm/demo';

describe('step-ca started from peers/harness/step-ca', () => {
  let dir: string;
  let rootFile: string;
  let intermediatePem: string;
  let intermediateKeyPem: string;
  let rootPem: string;
  let ca: RunningStepCa | undefined;
  const signers: Signer[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshca-demo-step-ca-'));
    const certs = join(dir, 'certs');
    await makeRootCa({ dir: certs, profile: DEFAULT_ROOT });
    await makeIntermediate({ rootDir: certs, cluster: 'step', profile: DEFAULT_INTERMEDIATE });
    rootFile = join(certs, ROOT_FILES.cert);
    rootPem = readFileSync(rootFile, 'utf8');
    intermediatePem = readFileSync(join(certs, 'step', INTERMEDIATE_FILES.cert), 'utf8');
    intermediateKeyPem = readFileSync(join(certs, 'step', INTERMEDIATE_FILES.key), 'utf8');
    ca = await startStepCa({
      dir: join(dir, 'step-ca'),
      rootCertPem: rootPem,
      intermediateCertPem: intermediatePem,
      intermediateKeyPem,
      provisioners: [{ type: 'JWK', name: 'meshca-demo', password: PASSWORD }],
    });
  });

  after(async () => {
    for (const signer of signers) await signer.close();
    await ca?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('exposes what a StepClusterIssuer needs: URL, root, provisioner name, kid and password', () => {
    assert.ok(ca);
    assert.equal(ca.url, `https://127.0.0.1:${ca.port}`);
    assert.equal(ca.rootPem, rootPem);
    const issuer = stepCaJwkIssuer(ca);
    assert.equal(issuer.url, ca.url);
    assert.equal(issuer.caBundlePem, rootPem);
    assert.equal(issuer.provisioner.kind, 'JWK');
    assert.equal(issuer.provisioner.name, 'meshca-demo');
    assert.match(issuer.provisioner.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(issuer.provisioner.password, PASSWORD);
    assert.deepEqual(ca.provisioners, [
      { type: 'JWK', name: 'meshca-demo', kid: issuer.provisioner.kid, password: PASSWORD },
    ]);
    // The private keys on disk are the owner's alone.
    assert.equal(statSync(join(ca.dir, STEP_CA_FILES.intermediateKey)).mode & 0o777, 0o600);
    assert.equal(statSync(ca.configFile).mode & 0o777, 0o600);
  });

  test('signs a CSR through the JWK provisioner; openssl verifies the chain to the meshca-made root', async () => {
    assert.ok(ca);
    const signer = createStepCaSigner({ name: SIGNER, ...stepCaJwkIssuer(ca, 'meshca-demo') });
    signers.push(signer);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csrPem = buildWorkloadCsr({ key: privateKey, uri: SPIFFE_ID });
    const { chain } = await signer.sign(
      { csrPem, csr: parseCsr(csrPem), spiffeId: SPIFFE_ID, ttlSeconds: 3600, requestId: 'demo' },
      new AbortController().signal,
    );
    assert.equal(chain.length, 2, 'step-ca answers leaf + intermediate');
    assert.deepEqual(new X509Certificate(chain[1]!).raw, new X509Certificate(intermediatePem).raw);
    const leafFile = join(dir, 'leaf.pem');
    const untrusted = join(dir, 'untrusted.pem');
    writeFileSync(leafFile, chain[0]!);
    writeFileSync(untrusted, chain[1]!);
    const verify = await opensslOk([
      'verify',
      '-x509_strict',
      '-CAfile',
      rootFile,
      '-untrusted',
      untrusted,
      leafFile,
    ]);
    assert.equal(verify, `${leafFile}: OK\n`);
    const ext = 'subjectAltName,extendedKeyUsage,basicConstraints';
    assert.equal(
      await opensslOk(['x509', '-in', leafFile, '-noout', '-subject', '-ext', ext]),
      [
        'subject=',
        'X509v3 Extended Key Usage: ',
        '    TLS Web Server Authentication, TLS Web Client Authentication',
        'X509v3 Basic Constraints: critical',
        '    CA:FALSE',
        'X509v3 Subject Alternative Name: critical',
        `    URI:${SPIFFE_ID}`,
        '',
      ].join('\n'),
    );
  });

  test('asking for a JWK provisioner it does not have is DEMO_STEP_CA_NO_JWK_PROVISIONER', () => {
    assert.ok(ca);
    const running = ca;
    assert.throws(
      () => stepCaJwkIssuer(running, 'nope'),
      (err: unknown) =>
        err instanceof MeshcaError &&
        err.code === 'DEMO_STEP_CA_NO_JWK_PROVISIONER' &&
        err.kind === 'config' &&
        err.message ===
          `step-ca at ${running.url} has no JWK provisioner named "nope" (it has: meshca-demo (JWK)); add one to the provisioners it is started with`,
    );
  });

  test('an intermediate key that does not match its certificate is DEMO_STEP_CA_UNHEALTHY with step-ca log', async () => {
    const wrongKey = readFileSync(join(dir, 'certs', ROOT_FILES.key), 'utf8');
    const err = await startStepCa({
      dir: join(dir, 'step-ca-bad'),
      rootCertPem: rootPem,
      intermediateCertPem: intermediatePem,
      intermediateKeyPem: wrongKey,
      provisioners: [{ type: 'JWK', name: 'meshca-demo', password: PASSWORD }],
    }).then(
      () => assert.fail('step-ca started with a key that is not the intermediate key'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MeshcaError, String(err));
    assert.equal(err.code, 'DEMO_STEP_CA_UNHEALTHY');
    assert.equal(err.kind, 'unavailable');
    const logFile = join(dir, 'step-ca-bad', 'step-ca.log');
    const [, port] = /^step-ca at https:\/\/127\.0\.0\.1:(\d+) /.exec(err.message) ?? [];
    const log = readFileSync(logFile, 'utf8');
    assert.match(log, /x509: provided PrivateKey doesn't match parent's PublicKey\n$/);
    assert.equal(
      err.message,
      `step-ca at https://127.0.0.1:${port} exited with code 2; fix what the last lines of ${logFile} say:\n${log.split('\n').slice(-20).join('\n')}`,
    );
  });
});
