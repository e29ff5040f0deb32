// The hot path's certificate reader against OpenSSL (node's X509Certificate and the openssl CLI):
// serial, validity, key, issuer and authority key identifier of certificates meshca and openssl
// made, v1 and v3, UTCTime and GeneralizedTime, serials with and without DER's sign padding.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { issueWorkloadCertificate } from '../../src/pki/issue-workload-certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import { decodePem } from '../../src/pki/pem.js';
import { readCertificateFacts } from '../../src/pki/read-certificate-facts.js';
import { assertThrowsCode } from '../support/assert-error.js';
import { opensslOk } from '../support/openssl.js';
import { makeOpensslCa, newKeyArgs, type OpensslCa } from '../support/openssl-ca.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

/** The facts as node's X509Certificate (OpenSSL) reads them, in readCertificateFacts' shape. */
function judged(pem: string) {
  const x = new X509Certificate(pem);
  return {
    serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    spkiSha256: createHash('sha256')
      .update(x.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex'),
  };
}

function read(pem: string) {
  const facts = readCertificateFacts(decodePem(pem)[0]!.der);
  return {
    facts,
    comparable: {
      serial: facts.serial,
      notBefore: facts.notBefore.toISOString(),
      notAfter: facts.notAfter.toISOString(),
      spkiSha256: createHash('sha256').update(facts.spkiDer).digest('hex'),
    },
  };
}

let dir: TempDir;
let ca: OpensslCa;
before(async () => {
  dir = makeTempDir();
  ca = await makeOpensslCa('ec-p256');
});
after(() => {
  dir.remove();
  ca.cleanup();
});

/** `openssl req -x509` self-signed with these extra arguments; the PEM. */
async function selfSigned(name: string, args: string[]): Promise<string> {
  const out = dir.file(`${name}.pem`);
  await opensslOk([
    'req',
    '-x509',
    ...newKeyArgs('ec-p256'),
    '-nodes',
    '-keyout',
    dir.file(`${name}.key`),
    '-subj',
    `/CN=${name}`,
    '-out',
    out,
    ...args,
  ]);
  return readFileSync(out, 'utf8');
}

describe('readCertificateFacts', () => {
  it('reads a workload leaf as OpenSSL does, with the issuing CA key identifier', async () => {
    const csr = parseCsr(
      buildWorkloadCsr({ key: await generateKey('ec-p256'), uri: 'spiffe://cluster.local/ns/a/sa/b' }),
    );
    const issued = await issueWorkloadCertificate({
      issuer: ca.intermediate,
      csr,
      spiffeId: 'spiffe://cluster.local/ns/a/sa/b',
      ttlSeconds: 3600,
    });
    const { facts, comparable } = read(issued.pem);
    assert.deepEqual(comparable, judged(issued.pem));
    assert.equal(facts.serial, issued.serialHex.toLowerCase().replace(/^0+(?=.)/, ''));
    assert.ok(facts.spkiDer.equals(csr.spkiDer));
    assert.ok(facts.issuerDer.equals(ca.intermediate.certificate.subjectDer), 'the issuer is the CA');
    const ski = await opensslOk(['x509', '-noout', '-ext', 'subjectKeyIdentifier'], {
      input: ca.intermediate.certificate.pem,
    });
    assert.equal(
      facts.authorityKeyId?.toString('hex'),
      ski.split('\n')[1]!.trim().replace(/:/g, '').toLowerCase(),
    );
  });

  it('reads GeneralizedTime (after 2049), padded serials and certificates without extensions', async () => {
    const cases = [
      await selfSigned('late', ['-days', '20000', '-set_serial', '0x80ff00']),
      await selfSigned('small-serial', ['-days', '1', '-set_serial', '1']),
      await selfSigned('zero-led', ['-days', '30', '-set_serial', '0x00ff']),
    ];
    // `x509 -req` without extensions makes a version 1 certificate (no version field, no extensions).
    await opensslOk([
      'req',
      '-new',
      '-key',
      dir.file('late.key'),
      '-subj',
      '/CN=v1',
      '-out',
      dir.file('v1.csr'),
    ]);
    await opensslOk([
      'x509',
      '-req',
      '-in',
      dir.file('v1.csr'),
      '-signkey',
      dir.file('late.key'),
      '-days',
      '2',
      '-out',
      dir.file('v1.pem'),
    ]);
    const v1 = readFileSync(dir.file('v1.pem'), 'utf8');
    assert.match(await opensslOk(['x509', '-noout', '-text'], { input: v1 }), /Version: 1 /);
    cases.push(v1);
    for (const pem of cases) assert.deepEqual(read(pem).comparable, judged(pem));
    assert.ok(read(cases[0]!).facts.notAfter.getUTCFullYear() > 2049);
    assert.equal(read(cases[0]!).facts.serial, '80ff00');
    assert.equal(read(v1).facts.authorityKeyId, undefined);
  });

  it('refuses what is not a certificate with PKI_DER_MALFORMED', async () => {
    const csrDer = decodePem(buildWorkloadCsr({ key: await generateKey('ec-p256'), uri: 'spiffe://x/y' }))[0]!
      .der;
    for (const der of [Buffer.from([0x30, 0x00]), Buffer.from([0x02, 0x01, 0x01]), csrDer])
      assertThrowsCode(() => readCertificateFacts(der), 'PKI_DER_MALFORMED');
  });
});
