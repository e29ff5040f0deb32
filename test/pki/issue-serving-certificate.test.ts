// The CA server's TLS certificate: OpenSSL verifies it for TLS server and client use and for the
// host names and addresses in it, and a real TLS handshake on 127.0.0.1 accepts it.
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, createServer } from 'node:tls';
import { issueServingCertificate } from '../../src/pki/issue-serving-certificate.js';
import { encodePrivateKeyPem, generateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import { assertRejectsCode } from '../support/assert-error.js';
import { colonHex, openssl, opensslText } from '../support/openssl.js';
import { makeOpensslCa, type OpensslCa } from '../support/openssl-ca.js';

const DNS = ['meshca.istio-system.svc', 'localhost'];
const IPS = ['127.0.0.1', '::1', 'fd00::10'];

const assertCode = (fn: () => Promise<unknown>, code: string, message?: RegExp) =>
  assertRejectsCode(fn, code, 'invalid-input', message);

const keys: { ec?: KeyObject; rsa?: KeyObject } = {};
before(async () => {
  keys.ec = await generateKey('ec-p256');
  keys.rsa = await generateKey('rsa-2048');
});

for (const caType of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
  describe(`issueServingCertificate with a ${caType} CA`, () => {
    let ca: OpensslCa;
    before(async () => {
      ca = await makeOpensslCa(caType);
    });
    after(() => ca.cleanup());

    for (const keyType of ['ec', 'rsa'] as const) {
      it(`issues a ${keyType.toUpperCase()} serving certificate with an empty subject and a critical SAN that OpenSSL verifies for its names`, async () => {
        const issued = await issueServingCertificate({
          issuer: ca.intermediate,
          publicKey: createPublicKey(keys[keyType]!),
          dnsNames: DNS,
          ips: IPS,
          ttlSeconds: 3600,
        });
        const path = ca.write(`serving-${keyType}.pem`, issued.pem);
        for (const purpose of ['sslserver', 'sslclient'] as const) {
          const verdict = await ca.verify(path, purpose);
          assert.equal(verdict.status, 0, verdict.stdout + verdict.stderr);
        }
        for (const check of [
          ['-verify_hostname', 'meshca.istio-system.svc'],
          ['-verify_hostname', 'localhost'],
          ['-verify_ip', '127.0.0.1'],
          ['-verify_ip', '::1'],
          ['-verify_ip', 'fd00:0::10'],
        ]) {
          const verdict = await openssl([
            'verify',
            '-CAfile',
            ca.rootPath,
            '-untrusted',
            ca.intermediatePath,
            ...check,
            path,
          ]);
          assert.equal(verdict.status, 0, `${check.join(' ')}: ${verdict.stdout}${verdict.stderr}`);
        }
        const wrong = await openssl([
          'verify',
          '-CAfile',
          ca.rootPath,
          '-untrusted',
          ca.intermediatePath,
          '-verify_ip',
          '10.0.0.1',
          path,
        ]);
        assert.notEqual(wrong.status, 0, 'an address not in the SAN is refused');

        const text = await opensslText(path);
        assert.match(text, /Subject: *\n/);
        assert.match(
          text,
          /X509v3 Subject Alternative Name: critical\n\s+DNS:meshca\.istio-system\.svc, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:10\n/,
        );
        assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
        const usage = keyType === 'rsa' ? 'Digital Signature, Key Encipherment' : 'Digital Signature';
        assert.match(text, new RegExp(`X509v3 Key Usage: critical\\n\\s+${usage}\\n`));
        assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
        assert.match(
          text,
          new RegExp(
            `X509v3 Authority Key Identifier: *\\n\\s+(keyid:)?${colonHex(ca.intermediate.certificate.subjectKeyId!)}\\n`,
          ),
        );
        const info = parseCertificate(issued.pem);
        assert.deepEqual(info.dnsNames, DNS);
        assert.equal(info.ips.length, 3);
        assert.equal(info.isCa, false);
        assert.equal(info.sanCritical, true);
      });
    }
  });
}

describe('issueServingCertificate subject, TLS and refusals', () => {
  let ca: OpensslCa;
  before(async () => {
    ca = await makeOpensslCa('ec-p256');
  });
  after(() => ca.cleanup());

  it('writes CN=<commonName> as the subject and then a non-critical SAN', async () => {
    const issued = await issueServingCertificate({
      issuer: ca.intermediate,
      publicKey: keys.ec!,
      dnsNames: ['istiod.istio-system.svc'],
      ips: [],
      ttlSeconds: 3600,
      commonName: 'meshca',
    });
    const path = ca.write('cn.pem', issued.pem);
    const text = await opensslText(path);
    assert.match(text, /Subject: CN = meshca\n/);
    assert.match(text, /X509v3 Subject Alternative Name: *\n\s+DNS:istiod\.istio-system\.svc\n/);
    assert.equal((await ca.verify(path, 'sslserver')).status, 0);
    assert.equal(parseCertificate(issued.der).subject, 'CN=meshca');
  });

  it('leaves the SAN out when only a common name is given', async () => {
    const issued = await issueServingCertificate({
      issuer: ca.intermediate,
      publicKey: keys.ec!,
      dnsNames: [],
      ips: [],
      ttlSeconds: 60,
      commonName: 'meshca',
    });
    const info = parseCertificate(issued.der);
    assert.deepEqual([info.subject, info.dnsNames, info.ips, info.uris], ['CN=meshca', [], [], []]);
    assert.doesNotMatch(await opensslText(ca.write('cn-only.pem', issued.pem)), /Subject Alternative Name/);
  });

  it('shares the workload validity rules: NotBefore = now − 120 s, NotAfter clamped to the issuer', async () => {
    const now = new Date((Math.floor(Date.now() / 1000) + 60) * 1000);
    const issued = await issueServingCertificate({
      issuer: ca.intermediate,
      publicKey: keys.ec!,
      dnsNames: DNS,
      ips: [],
      ttlSeconds: 10 * 365 * 86_400,
      now,
    });
    assert.equal(issued.notBefore.getTime(), now.getTime() - 120_000);
    assert.equal(issued.notAfter.getTime(), ca.intermediate.certificate.notAfter.getTime());
  });

  it('is accepted in a real TLS handshake on 127.0.0.1, by IP address and by host name', async () => {
    const issued = await issueServingCertificate({
      issuer: ca.intermediate,
      publicKey: keys.ec!,
      dnsNames: DNS,
      ips: IPS,
      ttlSeconds: 600,
    });
    const server = createServer(
      { key: encodePrivateKeyPem(keys.ec!), cert: issued.pem + readFileSync(ca.intermediatePath, 'utf8') },
      (socket) => socket.end('hello'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const root = readFileSync(ca.rootPath, 'utf8');
      for (const servername of [undefined, 'meshca.istio-system.svc']) {
        const reply = await new Promise<string>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port, ca: root, servername }, () => {
            if (!socket.authorized) reject(socket.authorizationError);
          });
          let data = '';
          socket.on('data', (chunk) => {
            data += chunk;
          });
          socket.on('end', () => resolve(data));
          socket.on('error', reject);
        });
        assert.equal(reply, 'hello');
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  const refusals: [string, Partial<Parameters<typeof issueServingCertificate>[0]>, string, RegExp][] = [
    [
      'a DNS name with a space',
      { dnsNames: ['bad name'] },
      'PKI_DNS_NAME_INVALID',
      /^"bad name" is not a DNS name/,
    ],
    [
      'a DNS name with a wildcard in the middle',
      { dnsNames: ['a.*.svc'] },
      'PKI_DNS_NAME_INVALID',
      /"a\.\*\.svc"/,
    ],
    ['a non-ASCII DNS name', { dnsNames: ['mésh.local'] }, 'PKI_DNS_NAME_INVALID', /"mésh\.local"/],
    [
      'an IP address that is not one',
      { ips: ['300.1.1.1'] },
      'PKI_IP_ADDRESS_INVALID',
      /^"300\.1\.1\.1" is not an IP address/,
    ],
    ['an IPv6 address with a zone', { ips: ['fe80::1%eth0'] }, 'PKI_IP_ADDRESS_INVALID', /without a zone/],
    [
      'no names at all',
      { dnsNames: [], ips: [] },
      'PKI_SAN_EMPTY',
      /needs at least one DNS name or IP address/,
    ],
    ['an empty common name', { commonName: ' ' }, 'PKI_NAME_INVALID', /common name is empty/],
    ['a zero TTL', { ttlSeconds: 0 }, 'PKI_TTL_INVALID', /positive number of seconds; got 0$/],
  ];
  for (const [what, override, code, message] of refusals) {
    it(`refuses ${what} with ${code}`, async () => {
      await assertCode(
        () =>
          issueServingCertificate({
            issuer: ca.intermediate,
            publicKey: keys.ec!,
            dnsNames: ['ok.svc'],
            ips: [],
            ttlSeconds: 60,
            ...override,
          }),
        code,
        message,
      );
    });
  }
});
