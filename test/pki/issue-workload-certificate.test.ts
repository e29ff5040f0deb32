// Workload X.509-SVIDs from an openssl-made root and intermediate: OpenSSL verifies the chain for
// TLS client and server use and reads back the SPIFFE profile; serials, validity and errors are exact.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { children, readDer } from '../../src/pki/der-reader.js';
import { issueWorkloadCertificate } from '../../src/pki/issue-workload-certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import type { ParsedCsr } from '../../src/pki/types.js';
import { assertRejectsCode } from '../support/assert-error.js';
import { colonHex, opensslOk, opensslText } from '../support/openssl.js';
import { makeOpensslCa, type OpensslCa, type TestKeyType } from '../support/openssl-ca.js';

const SPIFFE_ID = 'spiffe://cluster.local/ns/bookinfo/sa/reviews';
const DAY = 86_400;

/** The signature AlgorithmIdentifier DER each CA key type must produce (RSA with NULL params, ECDSA without). */
const ALGORITHM_ID: Record<TestKeyType, { name: string; der: string }> = {
  'ec-p256': { name: 'ecdsa-with-SHA256', der: '300a06082a8648ce3d040302' },
  'ec-p384': { name: 'ecdsa-with-SHA384', der: '300a06082a8648ce3d040303' },
  'rsa-2048': { name: 'sha256WithRSAEncryption', der: '300d06092a864886f70d01010b0500' },
};

/** Whole seconds, as certificates hold them, so injected clocks compare exactly. */
function wholeSecondsNow(offsetSeconds = 0): Date {
  return new Date((Math.floor(Date.now() / 1000) + offsetSeconds) * 1000);
}

const csrs: Partial<Record<'ec' | 'rsa', ParsedCsr>> = {};
before(async () => {
  csrs.ec = parseCsr(buildWorkloadCsr({ key: await generateKey('ec-p256'), uri: SPIFFE_ID }));
  csrs.rsa = parseCsr(buildWorkloadCsr({ key: await generateKey('rsa-2048'), uri: SPIFFE_ID }));
});

for (const caType of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
  describe(`issueWorkloadCertificate with a ${caType} CA`, () => {
    let ca: OpensslCa;
    before(async () => {
      ca = await makeOpensslCa(caType);
    });
    after(() => ca.cleanup());

    for (const leafKey of ['ec', 'rsa'] as const) {
      it(`issues an SVID for a ${leafKey === 'ec' ? 'EC P-256' : 'RSA 2048'} key that OpenSSL verifies and reads as the SPIFFE profile`, async () => {
        const csr = csrs[leafKey]!;
        const issued = await issueWorkloadCertificate({
          issuer: ca.intermediate,
          csr,
          spiffeId: SPIFFE_ID,
          ttlSeconds: DAY,
        });
        const path = ca.write(`leaf-${leafKey}.pem`, issued.pem);

        for (const purpose of [undefined, 'sslclient', 'sslserver'] as const) {
          const verdict = await ca.verify(path, purpose);
          assert.equal(verdict.status, 0, `${purpose ?? 'default'}: ${verdict.stdout}${verdict.stderr}`);
          assert.equal(verdict.stdout.trim(), `${path}: OK`);
        }

        const text = await opensslText(path);
        assert.match(text, /Version: 3 \(0x2\)/);
        assert.match(text, /Subject: *\n/);
        assert.match(text, /Issuer: O = Istio, CN = Intermediate CA, L = cluster1\n/);
        assert.match(
          text,
          /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews\n/,
        );
        assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
        const usage = leafKey === 'rsa' ? 'Digital Signature, Key Encipherment' : 'Digital Signature';
        assert.match(text, new RegExp(`X509v3 Key Usage: critical\\n\\s+${usage}\\n`));
        assert.match(
          text,
          /X509v3 Extended Key Usage: *\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/,
        );
        const ski = ca.intermediate.certificate.subjectKeyId!;
        assert.match(
          text,
          new RegExp(`X509v3 Authority Key Identifier: *\\n\\s+(keyid:)?${colonHex(ski)}\\n`),
        );
        assert.match(text, new RegExp(`Signature Algorithm: ${ALGORITHM_ID[caType].name}`));

        // The exact AlgorithmIdentifier, in the TBS and in the outer Certificate.
        const [tbs, outerAlgorithm] = children(issued.der, readDer(issued.der));
        const [, , innerAlgorithm] = children(issued.der, tbs!);
        for (const node of [innerAlgorithm!, outerAlgorithm!]) {
          assert.equal(issued.der.subarray(node.start, node.end).toString('hex'), ALGORITHM_ID[caType].der);
        }

        const info = parseCertificate(issued.pem);
        assert.deepEqual(info.publicKey.export({ format: 'der', type: 'spki' }), csr.spkiDer);
        assert.equal(info.serialHex, issued.serialHex);
        assert.deepEqual(info.uris, [SPIFFE_ID]);
        assert.deepEqual([info.dnsNames, info.ips, info.emails], [[], [], []]);
        assert.equal(info.isCa, false);
        assert.deepEqual(info.authorityKeyId, ski);
        assert.deepEqual(info.issuerDer, ca.intermediate.certificate.subjectDer);
        assert.ok(new X509Certificate(issued.der).verify(ca.intermediate.certificate.publicKey));
      });
    }

    it('starts NotBefore exactly 120 s before an injected now and ends at now + ttl', async () => {
      const now = wholeSecondsNow(3600);
      const issued = await issueWorkloadCertificate({
        issuer: ca.intermediate,
        csr: csrs.ec!,
        spiffeId: SPIFFE_ID,
        ttlSeconds: DAY,
        now,
      });
      assert.equal(issued.notBefore.getTime(), now.getTime() - 120_000);
      assert.equal(issued.notAfter.getTime(), now.getTime() + DAY * 1000);
      const info = parseCertificate(issued.der);
      assert.equal(info.notBefore.getTime(), issued.notBefore.getTime());
      assert.equal(info.notAfter.getTime(), issued.notAfter.getTime());
      const dates = await opensslOk([
        'x509',
        '-noout',
        '-startdate',
        '-enddate',
        '-in',
        ca.write('dates.pem', issued.pem),
      ]);
      assert.match(dates, new RegExp(`notBefore=${opensslDate(issued.notBefore)}`));
      assert.match(dates, new RegExp(`notAfter=${opensslDate(issued.notAfter)}`));
    });

    it('clamps NotAfter to the issuer’s NotAfter', async () => {
      const issuerEnd = ca.intermediate.certificate.notAfter;
      const now = new Date(issuerEnd.getTime() - 3600_000);
      const issued = await issueWorkloadCertificate({
        issuer: ca.intermediate,
        csr: csrs.ec!,
        spiffeId: SPIFFE_ID,
        ttlSeconds: DAY,
        now,
      });
      assert.equal(issued.notAfter.getTime(), issuerEnd.getTime());
      assert.equal(parseCertificate(issued.der).notAfter.getTime(), issuerEnd.getTime());
    });
  });
}

describe('issueWorkloadCertificate serials, issuers and refusals', () => {
  let ca: OpensslCa;
  let caWithoutSki: OpensslCa;
  before(async () => {
    ca = await makeOpensslCa('ec-p256', { intermediateDays: 1 });
    caWithoutSki = await makeOpensslCa('ec-p256', { rootSubjectKeyId: false });
  });
  after(() => {
    ca.cleanup();
    caWithoutSki.cleanup();
  });

  it('gives 1,000 certificates 1,000 distinct positive serials of at most 128 bits', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const { serialHex, der } = await issueWorkloadCertificate({
        issuer: ca.intermediate,
        csr: csrs.ec!,
        spiffeId: SPIFFE_ID,
        ttlSeconds: 60,
      });
      // The magnitude as openssl prints it: whole bytes, at most 16 (128 bits), no sign byte;
      // positivity and DER minimality are checked on the DER in new-serial.test.ts.
      assert.match(serialHex, /^([0-9A-F]{2}){1,16}$/);
      assert.ok(/[1-9A-F]/.test(serialHex), 'not zero');
      assert.ok(!serialHex.startsWith('00'), serialHex);
      if (i < 50) assert.equal(parseCertificate(der).serialHex, serialHex);
      serials.add(serialHex);
    }
    assert.equal(serials.size, 1000);
    const issued = await issueWorkloadCertificate({
      issuer: ca.intermediate,
      csr: csrs.ec!,
      spiffeId: SPIFFE_ID,
      ttlSeconds: 60,
    });
    const serial = await opensslOk(['x509', '-noout', '-serial', '-in', ca.write('serial.pem', issued.pem)]);
    assert.equal(serial.trim(), `serial=${issued.serialHex}`);
  });

  it('clamps a TTL longer than the issuer’s remaining life, and OpenSSL still verifies the chain', async () => {
    const issued = await issueWorkloadCertificate({
      issuer: ca.intermediate,
      csr: csrs.rsa!,
      spiffeId: SPIFFE_ID,
      ttlSeconds: 2 * DAY,
    });
    assert.equal(issued.notAfter.getTime(), ca.intermediate.certificate.notAfter.getTime());
    const verdict = await ca.verify(ca.write('clamped.pem', issued.pem), 'sslclient');
    assert.equal(verdict.status, 0, verdict.stdout + verdict.stderr);
  });

  it('computes the AKI from the issuer key when the issuer has no subjectKeyIdentifier, as OpenSSL would', async () => {
    const root = caWithoutSki.root;
    assert.equal(root.certificate.subjectKeyId, undefined);
    // Independent judge: OpenSSL's subjectKeyIdentifier=hash over the same key.
    const probe = join(caWithoutSki.dir, 'probe.pem');
    await opensslOk(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'root-key.pem',
        '-subj',
        '/CN=probe',
        '-addext',
        'subjectKeyIdentifier=hash',
        '-out',
        probe,
      ],
      { cwd: caWithoutSki.dir },
    );
    const expected = parseCertificate(readFileSync(probe, 'utf8')).subjectKeyId!;
    const issued = await issueWorkloadCertificate({
      issuer: root,
      csr: csrs.ec!,
      spiffeId: SPIFFE_ID,
      ttlSeconds: 600,
    });
    assert.deepEqual(parseCertificate(issued.der).authorityKeyId, expected);
    const path = caWithoutSki.write('leaf-from-root.pem', issued.pem);
    const verdict = await opensslOk([
      'verify',
      '-CAfile',
      caWithoutSki.rootPath,
      '-purpose',
      'sslserver',
      path,
    ]);
    assert.equal(verdict.trim(), `${path}: OK`);
    // And the per-issuer constants do not leak between issuers used in turn.
    const fromIntermediate = await issueWorkloadCertificate({
      issuer: caWithoutSki.intermediate,
      csr: csrs.ec!,
      spiffeId: SPIFFE_ID,
      ttlSeconds: 600,
    });
    const info = parseCertificate(fromIntermediate.der);
    assert.deepEqual(info.authorityKeyId, caWithoutSki.intermediate.certificate.subjectKeyId);
    assert.equal(info.issuer, 'O=Istio, CN=Intermediate CA, L=cluster1');
  });

  it('refuses a non-positive or non-finite TTL with PKI_TTL_INVALID', async () => {
    for (const ttlSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assertRejectsCode(
        () =>
          issueWorkloadCertificate({
            issuer: ca.intermediate,
            csr: csrs.ec!,
            spiffeId: SPIFFE_ID,
            ttlSeconds,
          }),
        'PKI_TTL_INVALID',
        'invalid-input',
        /^the certificate lifetime must be a positive number of seconds; got /,
      );
    }
  });

  it('refuses an invalid SPIFFE ID with PKI_SPIFFE_ID_INVALID', async () => {
    await assertRejectsCode(
      () =>
        issueWorkloadCertificate({
          issuer: ca.intermediate,
          csr: csrs.ec!,
          spiffeId: 'spiffe://td/ns/a/sa/b/',
          ttlSeconds: 60,
        }),
      'PKI_SPIFFE_ID_INVALID',
      'invalid-input',
      /the path must not end with "\/"/,
    );
  });

  it('refuses to issue from an expired issuer with PKI_ISSUER_EXPIRED', async () => {
    const now = new Date(ca.intermediate.certificate.notAfter.getTime() + 1000);
    await assertRejectsCode(
      () =>
        issueWorkloadCertificate({
          issuer: ca.intermediate,
          csr: csrs.ec!,
          spiffeId: SPIFFE_ID,
          ttlSeconds: 60,
          now,
        }),
      'PKI_ISSUER_EXPIRED',
      'ca-unusable',
    );
  });
});

/** `Jan  2 03:04:05 2030 GMT`, as `openssl x509 -startdate` prints dates. */
function opensslDate(date: Date): string {
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const time = date.toISOString().slice(11, 19);
  return `${month} ${day} ${time} ${date.getUTCFullYear()} GMT`;
}
