// Workload CSRs: what buildWorkloadCsr makes is accepted by `openssl req -verify`; parseCsr reads
// both ours and OpenSSL's, verifies signatures, and refuses altered, garbage or unsupported requests.
import assert from 'node:assert/strict';
import { createPublicKey, ECDH, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { children, encodingOf, readDer } from '../../src/pki/der-reader.js';
import { bitString, implicit, oid, sequence, smallInteger } from '../../src/pki/der-writer.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import { parseCsr, parseCsrDer } from '../../src/pki/parse-csr.js';
import { decodePem, encodePem } from '../../src/pki/pem.js';
import type { KeyType } from '../../src/pki/types.js';
import { assertThrowsCode } from '../support/assert-error.js';
import { openssl, opensslOk } from '../support/openssl.js';
import { newKeyArgs } from '../support/openssl-ca.js';

const SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/bookinfo-ratings';
const BAD_SIGNATURE =
  "the CSR's signature does not verify with its own public key; the CSR was altered or made with another key";

const dir = mkdtempSync(join(tmpdir(), 'meshca-csr-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

/** Runs `openssl req -new` with extra arguments in the temp dir and returns the CSR PEM. */
async function opensslReq(args: string[]): Promise<string> {
  const out = `csr-${++fileCount}.pem`;
  await opensslOk(['req', '-new', '-nodes', '-keyout', `key-${fileCount}.pem`, '-out', out, ...args], {
    cwd: dir,
  });
  return readFileSync(join(dir, out), 'utf8');
}

function writeTemp(content: string): string {
  const path = join(dir, `input-${++fileCount}.pem`);
  writeFileSync(path, content);
  return path;
}

const assertCode = (fn: () => unknown, code: string, message?: string | RegExp) =>
  assertThrowsCode(fn, code, 'invalid-input', message);

const CASES: { type: KeyType; description: string; bits: number; algorithm: string; signature: string }[] = [
  { type: 'ec-p256', description: 'EC P-256', bits: 256, algorithm: 'ec', signature: 'ecdsa-with-SHA256' },
  { type: 'ec-p384', description: 'EC P-384', bits: 384, algorithm: 'ec', signature: 'ecdsa-with-SHA384' },
  {
    type: 'rsa-2048',
    description: 'RSA 2048',
    bits: 2048,
    algorithm: 'rsa',
    signature: 'sha256WithRSAEncryption',
  },
];

describe('buildWorkloadCsr → parseCsr', () => {
  for (const c of CASES) {
    it(`round-trips a ${c.type} CSR, and openssl verifies it and sees an empty subject and a critical URI SAN`, async () => {
      const key = await generateKey(c.type);
      const pem = buildWorkloadCsr({ key, uri: SPIFFE_ID });
      assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);

      const csr = parseCsr(pem);
      assert.equal(csr.keyDescription, c.description);
      assert.equal(csr.keyBits, c.bits);
      assert.equal(csr.keyAlgorithm, c.algorithm);
      assert.equal(csr.subject, '');
      assert.deepEqual(csr.uris, [SPIFFE_ID]);
      assert.deepEqual([csr.dnsNames, csr.ips, csr.emails], [[], [], []]);
      assert.equal(csr.requestsCa, false);
      assert.deepEqual(csr.spkiDer, createPublicKey(key).export({ format: 'der', type: 'spki' }));
      assert.ok(csr.publicKey.equals(createPublicKey(key)));
      assert.deepEqual(csr.der, decodePem(pem)[0]!.der);

      const result = await openssl(['req', '-in', writeTemp(pem), '-verify', '-noout', '-text']);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stderr, /self-signature verify OK/);
      assert.match(result.stdout, /Subject: *\n/);
      assert.match(
        result.stdout,
        /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-ratings\n/,
      );
      assert.match(result.stdout, new RegExp(`Signature Algorithm: ${c.signature}`));
    });
  }

  it('refuses to sign with a public key or a non-ASCII URI', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    assertCode(() => buildWorkloadCsr({ key: publicKey, uri: SPIFFE_ID }), 'PKI_KEY_UNSUPPORTED');
    assertCode(() => buildWorkloadCsr({ key: privateKey, uri: 'spiffe://td/ns/é/sa/b' }), 'PKI_DER_ENCODE');
    assertCode(() => buildWorkloadCsr({ key: privateKey, uri: '' }), 'PKI_CSR_URI_INVALID');
  });
});

describe('parseCsr on CSRs made by openssl req', () => {
  it('reads the subject and every kind of SAN', async () => {
    const pem = await opensslReq([
      ...newKeyArgs('ec-p256'),
      '-subj',
      '/O=foo/CN=bar',
      '-addext',
      `subjectAltName=URI:${SPIFFE_ID},DNS:ratings.default.svc,IP:10.1.2.3,IP:fd00::1,email:ops@example.com`,
    ]);
    const csr = parseCsr(pem);
    assert.equal(csr.subject, 'O=foo, CN=bar');
    assert.deepEqual(csr.uris, [SPIFFE_ID]);
    assert.deepEqual(csr.dnsNames, ['ratings.default.svc']);
    assert.deepEqual(csr.ips, ['10.1.2.3', 'fd00::1']);
    assert.deepEqual(csr.emails, ['ops@example.com']);
    assert.equal(csr.requestsCa, false);
  });

  it('sees a request for a CA through basicConstraints CA:TRUE or keyUsage keyCertSign', async () => {
    const withBasicConstraints = await opensslReq([
      ...newKeyArgs('ec-p256'),
      '-subj',
      '/CN=sneaky',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      `subjectAltName=URI:${SPIFFE_ID}`,
    ]);
    assert.equal(parseCsr(withBasicConstraints).requestsCa, true);
    assert.deepEqual(parseCsr(withBasicConstraints).uris, [SPIFFE_ID]);
    const withKeyUsage = await opensslReq([
      ...newKeyArgs('ec-p256'),
      '-subj',
      '/CN=x',
      '-addext',
      'keyUsage=keyCertSign',
    ]);
    assert.equal(parseCsr(withKeyUsage).requestsCa, true);
    const leafLike = await opensslReq([
      ...newKeyArgs('ec-p256'),
      '-subj',
      '/CN=x',
      '-addext',
      'basicConstraints=CA:FALSE',
      '-addext',
      'keyUsage=digitalSignature,keyEncipherment',
    ]);
    assert.equal(parseCsr(leafLike).requestsCa, false);
  });

  it('formats a subject exactly as parseCertificate formats the same name', async () => {
    const subject = '/C=CH/O=Zürich, AG/OU=a\\+b/CN=#1 ';
    const pem = await opensslReq([...newKeyArgs('ec-p256'), '-utf8', '-subj', subject]);
    const certPath = join(dir, 'same-name.pem');
    await opensslOk(
      [
        'req',
        '-x509',
        '-utf8',
        ...newKeyArgs('ec-p256'),
        '-nodes',
        '-keyout',
        'same-name-key.pem',
        '-subj',
        subject,
        '-out',
        certPath,
      ],
      { cwd: dir },
    );
    const csr = parseCsr(pem);
    assert.equal(csr.subject, 'C=CH, O=Zürich\\, AG, OU=a\\+b, CN=\\#1\\ ');
    assert.equal(csr.subject, parseCertificate(readFileSync(certPath, 'utf8')).subject);
  });

  it('verifies Ed25519, RSA-PSS and ECDSA with a stronger hash than the curve', async () => {
    const ed = parseCsr(await opensslReq(['-newkey', 'ed25519', '-subj', '/CN=ed']));
    assert.deepEqual([ed.keyAlgorithm, ed.keyDescription, ed.subject], ['ed25519', 'Ed25519', 'CN=ed']);
    const pss = parseCsr(
      await opensslReq([
        ...newKeyArgs('rsa-2048'),
        '-sha384',
        '-sigopt',
        'rsa_padding_mode:pss',
        '-sigopt',
        'rsa_pss_saltlen:48',
        '-subj',
        '/CN=pss',
      ]),
    );
    assert.deepEqual([pss.keyAlgorithm, pss.keyBits], ['rsa', 2048]);
    const ec512 = parseCsr(await opensslReq([...newKeyArgs('ec-p256'), '-sha512', '-subj', '/CN=e']));
    assert.equal(ec512.keyDescription, 'EC P-256');
  });

  it('refuses SHA-1 signatures and curves it does not issue for with PKI_CSR_UNSUPPORTED_ALGORITHM', async () => {
    const sha1 = await opensslReq([...newKeyArgs('ec-p256'), '-sha1', '-subj', '/CN=old']);
    const secp256k1 = await opensslReq([
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:secp256k1',
      '-subj',
      '/CN=k',
    ]);
    assertCode(
      () => parseCsr(sha1),
      'PKI_CSR_UNSUPPORTED_ALGORITHM',
      /^the CSR uses the signature algorithm ecdsa-with-SHA1, which meshca does not accept; /,
    );
    assertCode(
      () => parseCsr(secp256k1),
      'PKI_CSR_UNSUPPORTED_ALGORITHM',
      /an EC key on a curve other than P-256, P-384 or P-521/,
    );
  });
});

/** A CSR with a hand-made SPKI (empty subject, no attributes), signed ECDSA-SHA256 by `key`. */
function csrWithSpki(spki: Buffer, key: KeyObject): Buffer {
  const info = sequence(smallInteger(0), sequence(), spki, implicit(0, Buffer.alloc(0), true));
  return sequence(info, sequence(oid('1.2.840.10045.4.3.2')), bitString(sign('sha256', info, key)));
}

/** An EC P-256 SubjectPublicKeyInfo around the given point bytes. */
function p256Spki(point: Buffer): Buffer {
  return sequence(sequence(oid('1.2.840.10045.2.1'), oid('1.2.840.10045.3.1.7')), bitString(point));
}

describe('parseCsr on EC points', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = publicKey.export({ format: 'jwk' });
  // The uncompressed form: 04 || x || y.
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x!, 'base64url'),
    Buffer.from(jwk.y!, 'base64url'),
  ]);

  it('reads a compressed point and keeps the SPKI verbatim', () => {
    const compressed = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const spki = p256Spki(compressed);
    const csr = parseCsrDer(csrWithSpki(spki, privateKey));
    assert.deepEqual(csr.spkiDer, spki);
    assert.ok(csr.publicKey.equals(publicKey));
  });

  it('refuses a point that is not on the curve with PKI_CSR_MALFORMED', () => {
    const offCurve = Buffer.from(point);
    offCurve[offCurve.length - 1]! ^= 0x01;
    assertCode(
      () => parseCsrDer(csrWithSpki(p256Spki(offCurve), privateKey)),
      'PKI_CSR_MALFORMED',
      /^the CSR is not a valid PKCS#10 request: its public key cannot be read/,
    );
  });
});

describe('parseCsr refusals', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const good = decodePem(buildWorkloadCsr({ key, uri: SPIFFE_ID }))[0]!.der;

  it('refuses a CSR whose signature byte was flipped with PKI_CSR_BAD_SIGNATURE', async () => {
    const der = Buffer.from(good);
    der[der.length - 1]! ^= 0x01;
    assertCode(() => parseCsr(encodePem('CERTIFICATE REQUEST', der)), 'PKI_CSR_BAD_SIGNATURE', BAD_SIGNATURE);
    // OpenSSL 3.0's `req -verify` exits 0 even when the signature fails, so read its verdict.
    const verdict = await openssl([
      'req',
      '-in',
      writeTemp(encodePem('CERTIFICATE REQUEST', der)),
      '-verify',
      '-noout',
    ]);
    assert.match(verdict.stderr, /self-signature verify failure/);
  });

  it('refuses a CSR whose identity was altered after signing with PKI_CSR_BAD_SIGNATURE', () => {
    const der = Buffer.from(good);
    const at = der.indexOf('bookinfo-ratings');
    der[at] = 'c'.charCodeAt(0);
    assertCode(() => parseCsrDer(der), 'PKI_CSR_BAD_SIGNATURE', BAD_SIGNATURE);
  });

  it('refuses a CSR signed by another key with PKI_CSR_BAD_SIGNATURE', () => {
    const other = decodePem(
      buildWorkloadCsr({
        key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
        uri: SPIFFE_ID,
      }),
    )[0]!.der;
    // Our request body with the other request's signature algorithm and value.
    const [info] = children(good, readDer(good));
    const [, otherAlgorithm, otherSignature] = children(other, readDer(other));
    const der = sequence(
      encodingOf(good, info!),
      encodingOf(other, otherAlgorithm!),
      encodingOf(other, otherSignature!),
    );
    assertCode(() => parseCsrDer(der), 'PKI_CSR_BAD_SIGNATURE', BAD_SIGNATURE);
  });

  const garbage: [string, string, RegExp | string][] = [
    ['text without PEM', 'hello', /^the CSR is not a valid PKCS#10 request: the CSR: no PEM block found/],
    [
      'a certificate instead of a CSR',
      encodePem('CERTIFICATE', good),
      'the CSR is not a valid PKCS#10 request: the PEM block is a "CERTIFICATE", expected "CERTIFICATE REQUEST"',
    ],
    [
      'random bytes',
      encodePem('CERTIFICATE REQUEST', Buffer.from('not DER at all, just text')),
      /^the CSR is not a valid PKCS#10 request: malformed DER: /,
    ],
    [
      'a truncated request',
      encodePem('CERTIFICATE REQUEST', good.subarray(0, good.length - 10)),
      /claims \d+ bytes but only \d+ remain/,
    ],
    [
      'trailing bytes',
      encodePem('CERTIFICATE REQUEST', Buffer.concat([good, Buffer.from([0, 0])])),
      /2 trailing bytes/,
    ],
    ['two requests', encodePem('CERTIFICATE REQUEST', good).repeat(2), /expected one PEM block, found 2/],
    [
      'an empty SEQUENCE',
      encodePem('CERTIFICATE REQUEST', Buffer.from([0x30, 0])),
      /certificationRequestInfo is missing/,
    ],
  ];
  for (const [what, pem, message] of garbage) {
    it(`refuses ${what} with PKI_CSR_MALFORMED`, () => {
      assertCode(() => parseCsr(pem), 'PKI_CSR_MALFORMED', message);
    });
  }
});
