// The self-signed root is re-issued with its own key before it expires: the new certificate signs,
// the trust bundle holds old and new, and certificates under either verify against either root
// (same subject, same key), which is why no workload has to notice. openssl is the judge.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CertificateAuthority } from '../../src/ca/certificate-authority.js';
import { renewSelfSignedRootIfDue, rootRenewalDue } from '../../src/ca/renew-self-signed-root.js';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { issueWorkloadCertificate } from '../../src/pki/issue-workload-certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import { opensslOk } from '../support/openssl.js';

const DAY = 86_400_000;

const caMode = (dir: string) =>
  ({ kind: 'self-signed', dir, trustDomain: 'cluster.local', keyType: 'ec-p256' }) as const;

/** A leaf for `spiffeId` from the CA's current signing certificate, as PEM. */
async function leafFrom(ca: CertificateAuthority, spiffeId: string): Promise<string> {
  const key = await generateKey('ec-p256');
  const csr = parseCsr(buildWorkloadCsr({ key, uri: spiffeId }));
  return (await issueWorkloadCertificate({ issuer: ca.bundle.issuer, csr, spiffeId, ttlSeconds: 3600 })).pem;
}

describe('self-signed root renewal', () => {
  test('due only when less than the grace share of its life is left', () => {
    const cert = { notBefore: new Date(0), notAfter: new Date(100 * DAY) };
    assert.equal(rootRenewalDue(cert, new Date(79 * DAY), 20), false);
    assert.equal(rootRenewalDue(cert, new Date(81 * DAY), 20), true);
  });

  test('re-issues with the same key and subject; old and new roots verify each other’s leaves', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-renew-'));
    try {
      const caDir = join(dir, 'ca');
      // A root made nine days ago for ten days: 10% of its life is left.
      const made = await loadOrCreateSelfSignedCa({
        ...caMode(caDir),
        days: 10,
        now: new Date(Date.now() - 9 * DAY),
      });
      const oldRootPem = made.bundle.rootsPem;
      const before = await CertificateAuthority.open(caMode(caDir));
      const oldLeaf = await leafFrom(before, 'spiffe://cluster.local/ns/foo/sa/old');

      const renewed = await renewSelfSignedRootIfDue(caDir, { gracePercent: 20, days: 3650 });
      assert.ok(renewed, 'the renewal was due');
      assert.notEqual(renewed.serial, renewed.previousSerial);
      assert.equal(renewed.roots, 2);
      assert.equal(await renewSelfSignedRootIfDue(caDir, { gracePercent: 20, days: 3650 }), undefined);

      const roots = parseCertificates(await readFile(join(caDir, 'root-cert.pem'), 'utf8'));
      assert.equal(roots.length, 2);
      assert.equal(roots[0]!.serialHex, renewed.serial, 'the new root comes first');
      assert.equal(roots[0]!.subject, roots[1]!.subject);
      assert.ok(roots[0]!.publicKey.equals(roots[1]!.publicKey), 'same key');

      const after = await CertificateAuthority.open(caMode(caDir));
      assert.equal(after.bundle.issuer.certificate.serialHex, renewed.serial, 'the new root signs');
      const newLeaf = await leafFrom(after, 'spiffe://cluster.local/ns/foo/sa/new');
      await writeFile(join(dir, 'old-root.pem'), oldRootPem);
      await writeFile(join(dir, 'new-root.pem'), roots[0]!.pem);
      await writeFile(join(dir, 'old-leaf.pem'), oldLeaf);
      await writeFile(join(dir, 'new-leaf.pem'), newLeaf);
      for (const [root, leaf] of [
        ['old-root.pem', 'new-leaf.pem'],
        ['new-root.pem', 'old-leaf.pem'],
      ]) {
        assert.equal(await opensslOk(['verify', '-CAfile', root!, leaf!], { cwd: dir }), `${leaf}: OK\n`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
