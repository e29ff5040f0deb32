// The embedded signer with its CA key in a PKCS#11 token (SoftHSM2): the shared conformance suite,
// with an EC P-256 and an RSA-2048 intermediate key made in the token and a root key there too,
// so every signature of the chain comes from the token.
import { join } from 'node:path';
import { after } from 'node:test';
import { CertificateAuthority } from '../../../src/ca/certificate-authority.js';
import { makeIntermediate } from '../../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../../src/ca/offline/make-root-ca.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT } from '../../../src/ca/offline/profile.js';
import { createLocalCaSigner } from '../../../src/issuance/signers/local-ca-signer.js';
import type { KeyType } from '../../../src/pki/types.js';
import { makeSoftHsm } from '../../support/softhsm.js';
import { runSignerConformance, type SignerSubject } from './signer.conformance.js';

// SoftHSM2 reads its configuration when the module is initialized, once for this test process.
const hsm = makeSoftHsm();
process.env.SOFTHSM2_CONF = hsm.conf;
after(() => hsm.remove());

async function tokenKeySubject(keyType: KeyType): Promise<SignerSubject> {
  const dir = hsm.dir.file(`pki-${keyType}`);
  const ref = (object: string) => ({ uri: hsm.uri(`${object}-${keyType}`), allowPinValue: false });
  await makeRootCa({ dir, profile: { ...DEFAULT_ROOT, keyType }, tokenKey: ref('root') });
  await makeIntermediate({
    rootDir: dir,
    cluster: 'cluster1',
    profile: { ...DEFAULT_INTERMEDIATE, keyType },
    tokenKey: ref('ca'),
    rootKey: ref('root'),
  });
  const ca = await CertificateAuthority.open({
    kind: 'plugged',
    dir: join(dir, 'cluster1'),
    caKey: ref('ca'),
  });
  return {
    signer: createLocalCaSigner('meshca/local', ca),
    rootsPem: ca.bundle.roots.map((r) => r.pem),
    ttlLimit: { kind: 'capped', notAfter: ca.bundle.issuer.certificate.notAfter },
    refusesOtherCsrIdentity: false,
    cleanup: async () => ca.close(),
  };
}

runSignerConformance('local CA, key in SoftHSM2 (EC P-256)', () => tokenKeySubject('ec-p256'));
runSignerConformance('local CA, key in SoftHSM2 (RSA 2048)', () => tokenKeySubject('rsa-2048'));
