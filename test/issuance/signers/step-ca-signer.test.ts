// The step-ca Signer against a real step-ca (built from Debian's smallstep sources) on 127.0.0.1,
// with openssl as the judge of what it hands back: the shared signer conformance suite, then what is
// step-ca's own (provisioners, its refusals, restarts). step-ca comes from the peers harness (never skipped).
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { MeshcaError, unavailable } from '../../../src/errors.js';
import type { Signer, SignRequest } from '../../../src/issuance/signers/signer.js';
import {
  createStepCaSigner,
  type StepCaSignerOptions,
} from '../../../src/issuance/signers/step-ca-signer.js';
import { buildWorkloadCsr } from '../../../src/pki/build-workload-csr.js';
import { parseCsr } from '../../../src/pki/parse-csr.js';
import { opensslOk } from '../../support/openssl.js';
import {
  opensslCertificate,
  opensslHierarchy,
  type RunningStepCa,
  startResettingRelay,
  startStepCa,
  stepCaBinary,
  type TestCertificate,
} from '../../support/step-ca.js';
import { runSignerConformance } from './signer.conformance.js';

stepCaBinary(); // built before any test starts (or this file fails saying why)

const SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/sleep';
const PASSWORD = 'correct horse battery staple';
const SIGNER = 'stepclusterissuers.certmanager.step.sm/bar';

runSignerConformance('step-ca, JWK provisioner', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshca-step-conformance-'));
  const { root, intermediate } = opensslHierarchy(dir, 'conformance');
  const ca = await startStepCa({
    dir: join(dir, 'ca'),
    rootCertPem: root.certPem,
    intermediateCertPem: intermediate.certPem,
    intermediateKeyPem: intermediate.keyPem,
    provisioners: [{ type: 'JWK', name: 'meshca', password: PASSWORD, claims: { maxTLSCertDuration: '2h' } }],
  });
  return {
    signer: createStepCaSigner({
      name: SIGNER,
      url: ca.url,
      caBundlePem: ca.rootPem,
      provisioner: { kind: 'JWK', name: 'meshca', kid: ca.provisioners[0]!.kid!, password: PASSWORD },
    }),
    rootsPem: [root.certPem],
    ttlLimit: { kind: 'refused', maxSeconds: 2 * 3600 },
    // step-ca signs only the SANs of the provisioner token, which names the requested identity.
    refusesOtherCsrIdentity: true,
    async cleanup() {
      await ca.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

function signRequest(spiffeId: string, ttlSeconds: number): SignRequest {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csrPem = buildWorkloadCsr({ key: privateKey, uri: spiffeId });
  return { csrPem, csr: parseCsr(csrPem), spiffeId, ttlSeconds, requestId: 'test' };
}

async function rejection(promise: Promise<unknown>): Promise<MeshcaError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MeshcaError, `expected a MeshcaError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('step-ca signer', () => {
  let dir: string;
  let stepRoot: TestCertificate;
  let stepIntermediate: TestCertificate;
  let x5cLeaf: TestCertificate;
  let x5cRoot: TestCertificate;
  let ca: RunningStepCa;
  const signers: Signer[] = [];
  const signal = new AbortController().signal;

  const jwkSigner = (
    provisioner: string,
    extra: Partial<StepCaSignerOptions> = {},
    password = PASSWORD,
  ): Signer => {
    const kid = ca.provisioners.find((p) => p.name === provisioner)?.kid ?? 'none';
    const signer = createStepCaSigner({
      name: SIGNER,
      url: ca.url,
      caBundlePem: ca.rootPem,
      provisioner: { kind: 'JWK', name: provisioner, kid, password },
      ...extra,
    });
    signers.push(signer);
    return signer;
  };
  const x5cSigner = (extra: Partial<StepCaSignerOptions> = {}): Signer => {
    const signer = createStepCaSigner({
      name: SIGNER,
      url: ca.url,
      caBundlePem: ca.rootPem,
      provisioner: { kind: 'X5C', name: 'meshca-x5c', certChainPem: x5cLeaf.certPem, keyPem: x5cLeaf.keyPem },
      ...extra,
    });
    signers.push(signer);
    return signer;
  };

  /** openssl's verdict on the chain, and the leaf as openssl prints its identity fields. */
  async function judge(
    chain: string[],
    name: string,
  ): Promise<{ verify: string; leafText: string; leaf: X509Certificate }> {
    assert.equal(chain.length, 2, 'step-ca answers leaf + intermediate');
    assert.deepEqual(new X509Certificate(chain[1]!).raw, new X509Certificate(stepIntermediate.certPem).raw);
    const leafFile = join(dir, `${name}-leaf.pem`);
    writeFileSync(leafFile, chain[0]!);
    const untrusted = join(dir, `${name}-untrusted.pem`);
    writeFileSync(untrusted, chain.slice(1).join(''));
    const verify = await opensslOk([
      'verify',
      '-x509_strict',
      '-CAfile',
      stepRoot.certFile,
      '-untrusted',
      untrusted,
      leafFile,
    ]);
    const ext = 'subjectAltName,keyUsage,extendedKeyUsage,basicConstraints';
    const leafText = await opensslOk(['x509', '-in', leafFile, '-noout', '-subject', '-ext', ext]);
    return { verify, leafText, leaf: new X509Certificate(chain[0]!) };
  }

  const spiffeLeafText = [
    'subject=',
    'X509v3 Key Usage: critical',
    '    Digital Signature',
    'X509v3 Extended Key Usage: ',
    '    TLS Web Server Authentication, TLS Web Client Authentication',
    'X509v3 Basic Constraints: critical',
    '    CA:FALSE',
    'X509v3 Subject Alternative Name: critical',
    `    URI:${SPIFFE_ID}`,
    '',
  ].join('\n');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshca-step-ca-'));
    ({ root: stepRoot, intermediate: stepIntermediate } = opensslHierarchy(dir, 'step'));
    // meshca's own identity for the X5C provisioner, under a root of its own.
    ({ root: x5cRoot } = opensslHierarchy(dir, 'x5c'));
    x5cLeaf = opensslCertificate({
      dir,
      name: 'x5c-meshca',
      subject: '/O=meshca test/CN=meshca registration authority',
      extensions:
        'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth',
      issuer: x5cRoot,
    });
    ca = await startStepCa({
      dir: join(dir, 'ca'),
      rootCertPem: stepRoot.certPem,
      intermediateCertPem: stepIntermediate.certPem,
      intermediateKeyPem: stepIntermediate.keyPem,
      provisioners: [
        { type: 'JWK', name: 'meshca', password: PASSWORD },
        { type: 'JWK', name: 'short-lived', password: PASSWORD, claims: { maxTLSCertDuration: '1h' } },
        { type: 'X5C', name: 'meshca-x5c', rootsPem: x5cRoot.certPem },
      ],
    });
  });

  after(async () => {
    for (const signer of signers) await signer.close();
    await ca?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('issues a SPIFFE leaf through a JWK provisioner; openssl verifies the chain to the root', async () => {
    const { chain } = await jwkSigner('meshca').sign(signRequest(SPIFFE_ID, 3600), signal);
    const { verify, leafText, leaf } = await judge(chain, 'jwk');
    assert.match(verify, /jwk-leaf\.pem: OK\n$/);
    assert.equal(leafText, spiffeLeafText);
    assert.equal(leaf.subject, undefined, 'Node reports an empty subject as undefined');
    assert.equal(leaf.subjectAltName, `URI:${SPIFFE_ID}`);
    // step-ca backdates notBefore by a minute and counts the TTL from the moment it signs.
    assert.equal((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000, 3600 + 60);
  });

  test('issues a SPIFFE leaf through an X5C provisioner with meshca certificate as the token signer', async () => {
    const { chain } = await x5cSigner().sign(signRequest(SPIFFE_ID, 7200), signal);
    const { verify, leafText } = await judge(chain, 'x5c');
    assert.match(verify, /x5c-leaf\.pem: OK\n$/);
    assert.equal(leafText, spiffeLeafText);
  });

  test('a wrong provisioner password fails the first sign, saying so', async () => {
    const err = await rejection(jwkSigner('meshca', {}, 'wrong').sign(signRequest(SPIFFE_ID, 3600), signal));
    assert.equal(err.code, 'RA_STEP_PROVISIONER_PASSWORD');
    assert.equal(err.kind, 'ca-unusable');
    const kid = ca.provisioners[0]!.kid;
    assert.equal(
      err.message,
      `the password configured for step-ca provisioner "meshca" (kid ${kid}) at ${ca.url} does not decrypt its key: the password is wrong; set the one given to \`step ca init\` or \`step ca provisioner add\``,
    );
  });

  test('an unknown provisioner kid is reported with the provisioners step-ca has', async () => {
    const signer = createStepCaSigner({
      name: SIGNER,
      url: ca.url,
      caBundlePem: ca.rootPem,
      provisioner: { kind: 'JWK', name: 'meshca', kid: 'no-such-kid', password: PASSWORD },
    });
    signers.push(signer);
    const err = await rejection(signer.sign(signRequest(SPIFFE_ID, 3600), signal));
    assert.equal(err.code, 'RA_STEP_PROVISIONER_NOT_FOUND');
    const [a, b] = ca.provisioners;
    assert.equal(
      err.message,
      `step-ca at ${ca.url} has no JWK provisioner named "meshca" with key id "no-such-kid" (it has: meshca (JWK, kid ${a!.kid}), short-lived (JWK, kid ${b!.kid}), meshca-x5c (X5C)); fix the signer's provisioner name and kid (\`step ca provisioner list\`)`,
    );
  });

  test('a lifetime beyond the provisioner claims is refused as RA_STEP_FORBIDDEN with step-ca reason', async () => {
    const err = await rejection(jwkSigner('short-lived').sign(signRequest(SPIFFE_ID, 24 * 3600), signal));
    assert.equal(err.code, 'RA_STEP_FORBIDDEN');
    assert.equal(err.kind, 'invalid-input');
    assert.equal(
      err.message,
      `step-ca at ${ca.url}/1.0/sign refused to issue a certificate for ${SPIFFE_ID} valid 86400 s (HTTP 403: The request was forbidden by the certificate authority: requested duration of 24h1m0s is more than the authorized maximum certificate duration of 1h1m0s.); the provisioner's policy or claims do not allow this identity or lifetime: ask for a shorter TTL or widen the provisioner's claims`,
    );
  });

  test('a lifetime that is not positive is refused before step-ca, which would sign its default for 0 s', async () => {
    for (const ttl of [0, -60]) {
      const err = await rejection(jwkSigner('meshca').sign(signRequest(SPIFFE_ID, ttl), signal));
      assert.equal(err.code, 'PKI_TTL_INVALID');
      assert.equal(err.kind, 'invalid-input');
    }
  });

  test('a token from a skewed clock is refused as RA_STEP_UNAUTHORIZED', async () => {
    const skewed = () => new Date(Date.now() - 3600_000);
    const err = await rejection(
      jwkSigner('meshca', { now: skewed }).sign(signRequest(SPIFFE_ID, 3600), signal),
    );
    assert.equal(err.code, 'RA_STEP_UNAUTHORIZED');
    assert.equal(err.kind, 'ca-unusable');
    assert.equal(
      err.message,
      `step-ca at ${ca.url}/1.0/sign refused the provisioner token for a certificate for ${SPIFFE_ID} valid 3600 s (HTTP 401: The request lacked necessary authorization to be completed. Please see the certificate authority logs for more info.); check the provisioner name, key id and password (or X5C certificate), that meshca's and step-ca's clocks agree, and step-ca's log for the reason`,
    );
  });

  test('a CA bundle that does not hold step-ca root is a configuration problem', async () => {
    const signer = jwkSigner('meshca', { caBundlePem: x5cRoot.certPem });
    const err = await rejection(signer.sign(signRequest(SPIFFE_ID, 3600), signal));
    assert.equal(err.code, 'RA_STEP_TLS_UNTRUSTED');
    assert.equal(err.kind, 'ca-unusable');
  });

  test('an X5C key that is not the leaf key is refused when the signer is made', () => {
    assert.throws(
      () =>
        createStepCaSigner({
          name: SIGNER,
          url: ca.url,
          caBundlePem: ca.rootPem,
          provisioner: {
            kind: 'X5C',
            name: 'meshca-x5c',
            certChainPem: x5cLeaf.certPem,
            keyPem: x5cRoot.keyPem,
          },
        }),
      (err: unknown) =>
        err instanceof MeshcaError && err.code === 'RA_STEP_X5C_KEY_MISMATCH' && err.kind === 'config',
    );
  });

  test('a kept-alive connection that dies under a request is retried on a fresh one', async () => {
    const relay = await startResettingRelay(ca.port);
    try {
      const signer = jwkSigner('meshca', { url: relay.url });
      await signer.sign(signRequest(SPIFFE_ID, 600), signal);
      assert.equal(relay.resetOpenConnectionsOnNextUse(), 1, 'one kept-alive connection');
      assert.equal((await signer.sign(signRequest(SPIFFE_ID, 600), signal)).chain.length, 2);
    } finally {
      await relay.close();
    }
  });

  test('a stopped step-ca is RA_STEP_UNAVAILABLE; after a restart the next request succeeds', async () => {
    const jwk = jwkSigner('meshca');
    const x5c = x5cSigner();
    // Warm up: a cached provisioner key and kept-alive sockets that the restart will break.
    await jwk.sign(signRequest(SPIFFE_ID, 600), signal);
    await x5c.sign(signRequest(SPIFFE_ID, 600), signal);

    await ca.restart();
    assert.equal((await jwk.sign(signRequest(SPIFFE_ID, 600), signal)).chain.length, 2);
    assert.equal((await x5c.sign(signRequest(SPIFFE_ID, 600), signal)).chain.length, 2);

    await ca.stop();
    const err = await rejection(jwk.sign(signRequest(SPIFFE_ID, 600), signal));
    assert.equal(err.code, 'RA_STEP_UNAVAILABLE');
    assert.equal(err.kind, 'unavailable');
    assert.equal(
      err.message,
      `step-ca at ${ca.url}/1.0/sign refused the connection (ECONNREFUSED); check that step-ca is running and listening at that address`,
    );

    await ca.restart();
    assert.equal((await jwk.sign(signRequest(SPIFFE_ID, 600), signal)).chain.length, 2);
  });
});

describe('step-ca signer against a server that never answers', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let root: TestCertificate;
  let x5c: TestCertificate;
  const sockets = new Set<Socket>();
  const signers: Signer[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshca-step-silent-'));
    ({ root } = opensslHierarchy(dir, 'silent'));
    const serving = opensslCertificate({
      dir,
      name: 'silent-server',
      subject: '/CN=silent',
      extensions: 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth',
      issuer: root,
    });
    x5c = opensslCertificate({
      dir,
      name: 'silent-x5c',
      subject: '/CN=meshca',
      extensions: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth',
      issuer: root,
    });
    // Completes TLS, reads the request, and never says a word back.
    server = createServer({ cert: serving.certPem, key: serving.keyPem }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    for (const signer of signers) await signer.close();
    for (const socket of sockets) socket.destroy();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const silentSigner = (timeoutMs: number): Signer => {
    const signer = createStepCaSigner({
      name: SIGNER,
      url,
      caBundlePem: root.certPem,
      provisioner: { kind: 'X5C', name: 'x5c', certChainPem: x5c.certPem, keyPem: x5c.keyPem },
      timeoutMs,
    });
    signers.push(signer);
    return signer;
  };

  test('a request that gets no answer within timeoutMs is RA_STEP_TIMEOUT', async () => {
    const err = await rejection(
      silentSigner(200).sign(signRequest(SPIFFE_ID, 3600), new AbortController().signal),
    );
    assert.equal(err.code, 'RA_STEP_TIMEOUT');
    assert.equal(err.kind, 'unavailable');
    assert.equal(
      err.message,
      `step-ca at ${url}/1.0/sign did not answer within 200 ms; check step-ca's health and load, or raise the signer's timeout`,
    );
  });

  test("the RA's AbortSignal ends the request with the RA's own error", async () => {
    const controller = new AbortController();
    const reason = unavailable('RA_SIGNER_TIMEOUT', 'the signer took too long');
    // Abort once the request has reached the server, so the cancellation hits an exchange in flight.
    server.once('secureConnection', () => controller.abort(reason));
    const err = await rejection(silentSigner(60_000).sign(signRequest(SPIFFE_ID, 3600), controller.signal));
    assert.equal(err, reason);
  });
});
