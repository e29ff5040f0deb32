// step-ca answering 5xx: what step-ca does when its database or KMS fails, which a healthy step-ca
// cannot be made to do on demand; a tiny HTTPS server stands in for that failing step-ca only.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, test } from 'node:test';
import { createStepCaSigner } from '../../../src/issuance/signers/step-ca-signer.js';
import { buildWorkloadCsr } from '../../../src/pki/build-workload-csr.js';
import { generateKey } from '../../../src/pki/keys.js';
import { parseCsr } from '../../../src/pki/parse-csr.js';
import { opensslCertificate, opensslHierarchy, type TestCertificate } from '../../support/step-ca.js';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';

let dir: TempDir;
let server: Server;
let port: number;
let leaf: TestCertificate;
let serverCert: TestCertificate;
let status = 500;

before(async () => {
  dir = makeTempDir('meshca-step-5xx-');
  const { root } = opensslHierarchy(dir.path, 'x5c');
  leaf = opensslCertificate({
    dir: dir.path,
    name: 'meshca',
    subject: '/CN=meshca',
    extensions: 'keyUsage=critical,digitalSignature',
    issuer: root,
  });
  serverCert = opensslCertificate({
    dir: dir.path,
    name: 'fake-step',
    subject: '/CN=step-ca',
    extensions: 'subjectAltName=IP:127.0.0.1',
  });
  server = createServer({ key: serverCert.keyPem, cert: serverCert.certPem }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status,
          message:
            'The certificate authority encountered an Internal Server Error. Please see the certificate authority logs for more info.',
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => {
  server.close();
  dir.remove();
});

for (const code of [500, 502, 503]) {
  test(`step-ca answering ${code} is RA_STEP_UNAVAILABLE, naming the URL`, async () => {
    status = code;
    const signer = createStepCaSigner({
      name: 'stepclusterissuers.certmanager.step.sm/bar',
      url: `https://127.0.0.1:${port}`,
      caBundlePem: serverCert.certPem,
      provisioner: { kind: 'X5C', name: 'meshca-x5c', certChainPem: leaf.certPem, keyPem: leaf.keyPem },
      timeoutMs: 5000,
    });
    try {
      const spiffeId = 'spiffe://cluster.local/ns/bar/sa/sleep';
      const csrPem = buildWorkloadCsr({ key: await generateKey('ec-p256'), uri: spiffeId });
      await assert.rejects(
        signer.sign(
          { csrPem, csr: parseCsr(csrPem), spiffeId, ttlSeconds: 3600, requestId: 't' },
          new AbortController().signal,
        ),
        (err: Error & { code?: string; kind?: string }) => {
          assert.equal(err.code, 'RA_STEP_UNAVAILABLE');
          assert.equal(err.kind, 'unavailable');
          assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
          assert.match(err.message, new RegExp(String(code)));
          return true;
        },
      );
    } finally {
      await signer.close();
    }
  });
}
