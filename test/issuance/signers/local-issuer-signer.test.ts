// A cert-manager CA issuer kept on disk (tls.crt, tls.key, ca.crt) runs the shared signer
// conformance suite.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalIssuerSigner } from '../../../src/issuance/signers/local-issuer-signer.js';
import { silentLogger } from '../../../src/log.js';
import { makePluggedBundle, readText } from '../../support/ca-server-fixture.js';
import { runSignerConformance } from './signer.conformance.js';

runSignerConformance('local cert-manager CA issuer', async () => {
  const work = await mkdtemp(join(tmpdir(), 'meshca-local-issuer-'));
  const istio = await makePluggedBundle(work);
  const secret = join(work, 'secrets', 'foo-ca');
  await mkdir(secret, { recursive: true });
  await copyFile(join(istio, 'ca-cert.pem'), join(secret, 'tls.crt'));
  await copyFile(join(istio, 'ca-key.pem'), join(secret, 'tls.key'));
  await copyFile(join(istio, 'root-cert.pem'), join(secret, 'ca.crt'));
  const signer = await openLocalIssuerSigner({
    name: 'clusterissuers.cert-manager.io/foo',
    dir: secret,
    log: silentLogger,
  });
  return {
    signer,
    rootsPem: [await readText(join(secret, 'ca.crt'))],
    ttlLimit: { kind: 'capped', notAfter: signer.ca.bundle.issuer.certificate.notAfter },
    refusesOtherCsrIdentity: false,
    cleanup: () => rm(work, { recursive: true, force: true }),
  };
});
