// parseCertificate / parseCertificates, field by field against what `openssl x509` prints for the
// Istio sample certificates and for certificates openssl mints here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMeshcaError } from '../../src/errors.js';
import { parseCertificate, parseCertificates } from '../../src/pki/parse-certificate.js';
import type { CertificateInfo } from '../../src/pki/types.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const SAMPLES = SAMPLES_DIR;
const sample = (name: string) => readFileSync(join(SAMPLES, name), 'utf8');
const NAMEOPT = 'esc_2253,esc_ctrl,esc_msb,utf8,dump_nostr,dump_unknown,dump_der,sep_comma_plus_space,sname';
const EKU_TEXT: Record<string, string> = {
  'TLS Web Server Authentication': 'serverAuth',
  'TLS Web Client Authentication': 'clientAuth',
};

/** `openssl x509 -ext …` output as { "X509v3 Key Usage": { critical, value } }. */
async function opensslExtensions(pem: string): Promise<Record<string, { critical: boolean; value: string }>> {
  const out = await opensslOk(
    [
      'x509',
      '-noout',
      '-ext',
      'keyUsage,basicConstraints,subjectAltName,extendedKeyUsage,subjectKeyIdentifier,authorityKeyIdentifier',
    ],
    { input: pem },
  );
  const result: Record<string, { critical: boolean; value: string }> = {};
  let current: { critical: boolean; value: string } | undefined;
  for (const line of out.split('\n')) {
    const header = /^(X509v3 [^:]+):\s*(critical)?/.exec(line);
    if (header) {
      current = { critical: header[2] === 'critical', value: '' };
      result[header[1]!] = current;
    } else if (current && line.trim() !== '') {
      current.value += (current.value ? '\n' : '') + line.trim();
    }
  }
  return result;
}

const colonHex = (b: Buffer | undefined) =>
  b && (b.toString('hex').toUpperCase().match(/../g) ?? []).join(':');

async function expectMatchesOpenssl(cert: CertificateInfo, where: string): Promise<void> {
  const fields = await opensslOk(
    [
      'x509',
      '-noout',
      '-subject',
      '-issuer',
      '-serial',
      '-dates',
      '-dateopt',
      'iso_8601',
      '-fingerprint',
      '-sha256',
      '-nameopt',
      NAMEOPT,
    ],
    { input: cert.pem },
  );
  // OpenSSL writes " + " inside a multi-valued RDN; meshca writes RFC 4514's "+".
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(fields)?.[1]?.replace(/ \+ /g, '+');
  assert.equal(cert.subject, field('subject'), `${where}: subject`);
  assert.equal(cert.issuer, field('issuer'), `${where}: issuer`);
  assert.equal(cert.serialHex, field('serial'), `${where}: serial`);
  assert.equal(cert.fingerprint256, field('sha256 Fingerprint'), `${where}: fingerprint`);
  assert.equal(cert.notBefore.toISOString(), new Date(field('notBefore')!.replace(' ', 'T')).toISOString());
  assert.equal(cert.notAfter.toISOString(), new Date(field('notAfter')!.replace(' ', 'T')).toISOString());

  const ext = await opensslExtensions(cert.pem);
  const ku = ext['X509v3 Key Usage'];
  assert.deepEqual(cert.keyUsage, ku?.value.split(', '), `${where}: keyUsage`);
  assert.equal(cert.keyUsageCritical, ku?.critical ?? false, `${where}: keyUsage critical`);
  const bc = ext['X509v3 Basic Constraints'];
  assert.equal(cert.isCa, bc ? bc.value.startsWith('CA:TRUE') : undefined, `${where}: CA`);
  assert.equal(cert.basicConstraintsCritical, bc?.critical ?? false);
  const pathLen = bc && /pathlen:(\d+)/.exec(bc.value)?.[1];
  assert.equal(cert.pathLen, pathLen ? Number(pathLen) : undefined, `${where}: pathlen`);
  const eku = ext['X509v3 Extended Key Usage'];
  assert.deepEqual(
    cert.extKeyUsage,
    eku?.value.split(', ').map((n) => EKU_TEXT[n] ?? n),
    `${where}: EKU`,
  );
  const san = ext['X509v3 Subject Alternative Name'];
  const sans = san ? san.value.split(', ') : [];
  assert.deepEqual(
    cert.dnsNames,
    sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
  );
  assert.deepEqual(
    cert.uris,
    sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
  );
  assert.equal(cert.sanCritical, san?.critical ?? false);
  assert.equal(colonHex(cert.subjectKeyId), ext['X509v3 Subject Key Identifier']?.value, `${where}: SKI`);
  assert.equal(
    colonHex(cert.authorityKeyId),
    ext['X509v3 Authority Key Identifier']?.value.replace(/^keyid:/, ''),
    `${where}: AKI`,
  );
  const sigAlg = /Signature Algorithm: (\S+)/.exec(
    await opensslOk(['x509', '-noout', '-text'], { input: cert.pem }),
  )?.[1];
  assert.equal(cert.signatureAlgorithm, sigAlg, `${where}: signature algorithm`);
}

describe('parseCertificate on the Istio sample certificates', () => {
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.pem') && !f.includes('-key'));

  it('reads every certificate of every sample file exactly as openssl does', async () => {
    let count = 0;
    for (const file of files) {
      for (const [i, cert] of parseCertificates(sample(file), file).entries()) {
        await expectMatchesOpenssl(cert, `${file}#${i + 1}`);
        count++;
      }
    }
    assert.ok(count >= 25, `only ${count} certificates read`);
  });

  it('fills the intermediate of the -alt set', () => {
    const cert = parseCertificate(sample('ca-cert-alt.pem'), 'ca-cert-alt.pem');
    assert.equal(cert.subject, 'O=Istio, CN=Intermediate CA, L=cluster1');
    assert.equal(cert.issuer, 'O=Istio, CN=Root CA');
    assert.equal(cert.isCa, true);
    assert.equal(cert.pathLen, 0);
    assert.deepEqual(cert.keyUsage, [
      'Digital Signature',
      'Non Repudiation',
      'Key Encipherment',
      'Certificate Sign',
    ]);
    assert.deepEqual(cert.dnsNames, ['istiod.istio-system.svc']);
    assert.equal(cert.keyDescription, 'RSA 4096');
    assert.equal(cert.signatureAlgorithm, 'sha256WithRSAEncryption');
    assert.equal(cert.signatureHash, 'sha256');
    assert.equal(cert.selfSigned, false);
    assert.match(cert.pem, /^-----BEGIN CERTIFICATE-----\n/);
    assert.ok(cert.subjectDer.equals(parseCertificate(sample('root-cert-alt.pem')).subjectDer) === false);
    assert.ok(cert.issuerDer.equals(parseCertificate(sample('root-cert-alt.pem')).subjectDer));
  });

  it('reads the roots as self-signed, including the legacy one with emailAddress', () => {
    const root = parseCertificate(sample('root-cert.pem'));
    assert.equal(
      root.subject,
      'C=US, ST=California, L=Sunnyvale, O=Istio, OU=Test, CN=Root CA, emailAddress=testrootca@istio.io',
    );
    assert.equal(root.selfSigned, true);
    assert.equal(root.keyUsage, undefined);
    assert.equal(parseCertificate(sample('root-cert-alt.pem')).selfSigned, true);
  });

  it('reads a SPIFFE workload certificate with an empty subject', () => {
    const leaf = parseCertificate(sample('leaf-workload-foo-cert.pem'));
    assert.equal(leaf.subject, '');
    assert.deepEqual(leaf.uris, ['spiffe://trust-domain-foo/ns/foo/sa/foo']);
    assert.equal(leaf.sanCritical, true);
    assert.equal(leaf.isCa, false);
    assert.deepEqual(leaf.extKeyUsage, ['serverAuth', 'clientAuth']);
    assert.deepEqual(leaf.keyUsage, ['Digital Signature', 'Key Encipherment']);
  });

  it('accepts DER bytes and PEM held in a Buffer, with the same result', () => {
    const fromPem = parseCertificate(sample('ca-cert.pem'));
    const fromDer = parseCertificate(fromPem.der);
    const fromBuffer = parseCertificate(readFileSync(join(SAMPLES, 'ca-cert.pem')));
    assert.equal(fromDer.fingerprint256, fromPem.fingerprint256);
    assert.equal(fromBuffer.fingerprint256, fromPem.fingerprint256);
    assert.equal(fromDer.pem, fromPem.pem);
  });
});

describe('parseCertificate on certificates openssl mints', () => {
  let dir: TempDir;
  before(async () => {
    dir = makeTempDir();
    await opensslOk([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      dir.file('ec.key'),
    ]);
    await opensslOk([
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-out',
      dir.file('rsa.key'),
    ]);
    await opensslOk([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-384',
      '-out',
      dir.file('ec384.key'),
    ]);
  });
  after(() => dir.remove());

  const selfSigned = async (key: string, extra: string[]) => {
    const out = dir.file(`${Math.random().toString(36).slice(2)}.pem`);
    await opensslOk(['req', '-x509', '-new', '-key', dir.file(key), '-days', '2', '-out', out, ...extra]);
    return parseCertificate(readFileSync(out, 'utf8'), out);
  };

  it('derives the hash of SHA-1 signatures (sha1WithRSAEncryption, ecdsa-with-SHA1)', async () => {
    const rsa = await selfSigned('rsa.key', ['-sha1', '-subj', '/CN=old rsa']);
    assert.equal(rsa.signatureAlgorithm, 'sha1WithRSAEncryption');
    assert.equal(rsa.signatureHash, 'sha1');
    const ec = await selfSigned('ec.key', ['-sha1', '-subj', '/CN=old ec']);
    assert.equal(ec.signatureAlgorithm, 'ecdsa-with-SHA1');
    assert.equal(ec.signatureHash, 'sha1');
    const p384 = await selfSigned('ec384.key', ['-sha384', '-subj', '/CN=new ec']);
    assert.equal(p384.signatureAlgorithm, 'ecdsa-with-SHA384');
    assert.equal(p384.signatureHash, 'sha384');
    assert.equal(p384.keyDescription, 'EC P-384');
    for (const cert of [rsa, ec, p384]) await expectMatchesOpenssl(cert, cert.subject);
  });

  it('reads IP and email SANs, escapes special characters and keeps multi-valued RDNs', async () => {
    const cert = await selfSigned('ec.key', [
      '-subj',
      '/O=Acme\\, Inc./CN=a+OU=b',
      '-multivalue-rdn',
      '-addext',
      'subjectAltName=IP:10.1.2.3,IP:2001:db8::1,email:ops@example.com,DNS:x.example',
    ]);
    assert.equal(cert.subject, 'O=Acme\\, Inc., CN=a+OU=b');
    assert.deepEqual(cert.ips, ['10.1.2.3', '2001:db8::1']);
    assert.deepEqual(cert.emails, ['ops@example.com']);
    assert.deepEqual(cert.dnsNames, ['x.example']);
    await expectMatchesOpenssl(cert, 'special');
  });

  it('is not self-signed when only the names match', async () => {
    const root = await selfSigned('ec.key', ['-subj', '/O=Istio/CN=Root CA']);
    assert.equal(root.selfSigned, true);
    await opensslOk([
      'req',
      '-new',
      '-key',
      dir.file('rsa.key'),
      '-subj',
      '/O=Istio/CN=Root CA',
      '-out',
      dir.file('same.csr'),
    ]);
    dir.write('root.pem', root.pem);
    await opensslOk([
      'x509',
      '-req',
      '-in',
      dir.file('same.csr'),
      '-CA',
      dir.file('root.pem'),
      '-CAkey',
      dir.file('ec.key'),
      '-days',
      '1',
      '-out',
      dir.file('same.pem'),
    ]);
    const impostor = parseCertificate(dir.read('same.pem'));
    assert.equal(impostor.subject, impostor.issuer);
    assert.equal(impostor.selfSigned, false);
  });
});

describe('parseCertificate errors', () => {
  const code = (fn: () => unknown, expected: string, message: RegExp) =>
    assert.throws(fn, (err) => isMeshcaError(err) && err.code === expected && message.test(err.message));

  it('names a block that is not a certificate', () => {
    code(
      () => parseCertificates(sample('ca-cert.pem') + sample('ca-key.pem'), 'bundle.pem'),
      'PKI_CERT_MALFORMED',
      /^bundle\.pem: PEM block 2 is "RSA PRIVATE KEY", not "CERTIFICATE"/,
    );
    code(
      () => parseCertificate(sample('ca-key.pem'), 'ca-key.pem'),
      'PKI_CERT_MALFORMED',
      /"RSA PRIVATE KEY"/,
    );
  });

  it('wants exactly one certificate from parseCertificate and at least one from parseCertificates', () => {
    code(
      () => parseCertificate(sample('cert-chain-alt.pem'), 'cert-chain-alt.pem'),
      'PKI_CERT_MALFORMED',
      /holds 2 certificates/,
    );
    code(() => parseCertificates('  \n', 'empty.pem'), 'PKI_CERT_MALFORMED', /^empty\.pem: is empty/);
    code(() => parseCertificates('not pem', 'junk.pem'), 'PKI_PEM_MALFORMED', /^junk\.pem: no PEM block/);
  });

  it('refuses damaged DER with the source name', () => {
    const der = parseCertificate(sample('ca-cert.pem')).der;
    code(
      () => parseCertificate(der.subarray(0, der.length - 10), 'cut.der'),
      'PKI_CERT_MALFORMED',
      /^cut\.der: /,
    );
    code(
      () => parseCertificate(Buffer.concat([der, Buffer.from([0, 0])]), 'long.der'),
      'PKI_CERT_MALFORMED',
      /stray bytes/,
    );
    const notACert = Buffer.from('3003020101', 'hex');
    code(
      () => parseCertificate(notACert, 'tiny.der'),
      'PKI_CERT_MALFORMED',
      /^tiny\.der: not an X\.509 certificate/,
    );
  });
});
