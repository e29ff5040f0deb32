// The embedded signer: the shared conformance suite with a plugged intermediate and with the
// self-signed root, and its refusal to sign once its signing certificate has expired, saying when.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertificateAuthority } from '../../../src/ca/certificate-authority.js';
import { createLocalCaSigner } from '../../../src/issuance/signers/local-ca-signer.js';
import { parseCsr } from '../../../src/pki/parse-csr.js';
import { grpcStatusFor } from '../../../src/server/error-status.js';
import { makePluggedBundle, workloadCsr } from '../../support/ca-server-fixture.js';
import { runSignerConformance, type SignerSubject } from './signer.conformance.js';

async function localCaSubject(kind: 'plugged' | 'self-signed'): Promise<SignerSubject> {
  const dir = await mkdtemp(join(tmpdir(), 'meshca-local-signer-'));
  const ca =
    kind === 'plugged'
      ? await CertificateAuthority.open({ kind, dir: await makePluggedBundle(dir) })
      : await CertificateAuthority.open({ kind, dir, trustDomain: 'cluster.local', keyType: 'ec-p256' });
  return {
    signer: createLocalCaSigner('meshca/local', ca),
    rootsPem: ca.bundle.roots.map((r) => r.pem),
    ttlLimit: { kind: 'capped', notAfter: ca.bundle.issuer.certificate.notAfter },
    refusesOtherCsrIdentity: false,
    async cleanup() {
      ca.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

runSignerConformance('local CA, plugged intermediate', () => localCaSubject('plugged'));
runSignerConformance('local CA, self-signed root', () => localCaSubject('self-signed'));

test('an expired signing certificate refuses to sign: INTERNAL, with the expiry time', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshca-expired-'));
  try {
    const ca = await CertificateAuthority.open({ kind: 'plugged', dir: await makePluggedBundle(dir) });
    let now = new Date();
    const signer = createLocalCaSigner('meshca/local', ca, () => now);
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const request = {
      csrPem,
      csr: parseCsr(csrPem),
      spiffeId: 'spiffe://cluster.local/ns/foo/sa/sleep',
      ttlSeconds: 3600,
      requestId: 't',
    };
    assert.equal((await signer.sign(request)).chain.length, 2, 'signs while valid');
    const notAfter = ca.bundle.issuer.certificate.notAfter;
    now = new Date(notAfter.getTime() + 1000);
    await assert.rejects(signer.sign(request), (err: Error & { code?: string; kind?: string }) => {
      assert.equal(err.code, 'CA_EXPIRED');
      assert.equal(grpcStatusFor(err.kind as 'config'), 13);
      assert.equal(
        err.message,
        `the CA's signing certificate "O=Istio, CN=Intermediate CA, L=cluster1" expired at ${notAfter.toISOString()}; the CA refuses to sign until a new intermediate is plugged in`,
      );
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
