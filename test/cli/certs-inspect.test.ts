// `meshca certs inspect FILE…`: every field it prints, each compared with what openssl reads from
// the same certificate.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { runMeshca, runMeshcaOk } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const DAY_MS = 86_400_000;

/** `Name:   value` rows of one certificate's description. */
function rows(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.split('\n')) {
    const m = /^([A-Za-z0-9 -]+):\s+(.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}

/** What openssl says of a certificate file, in the form inspect prints it. */
async function opensslFacts(path: string) {
  const out = await opensslOk([
    'x509',
    '-in',
    path,
    '-noout',
    '-subject',
    '-issuer',
    '-serial',
    '-startdate',
    '-enddate',
    '-nameopt',
    'sep_comma_plus,esc_2253,esc_ctrl,esc_msb,utf8,dump_nostr,dump_der,sname',
  ]);
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  const iso = (d: string) => new Date(d).toISOString().replace('.000Z', 'Z');
  const fingerprint = /^sha256 Fingerprint=(.*)$/m.exec(
    await opensslOk(['x509', '-in', path, '-noout', '-fingerprint', '-sha256']),
  )![1]!;
  return {
    // RFC 2253 escaping and short names, but without dn_rev: in the certificate's order, as meshca prints.
    subject: field('subject').replaceAll(',', ', '),
    issuer: field('issuer').replaceAll(',', ', '),
    serial: field('serial'),
    notBefore: iso(field('notBefore')),
    notAfter: iso(field('notAfter')),
    notAfterMs: new Date(field('notAfter')).getTime(),
    fingerprint,
    text: await opensslOk(['x509', '-in', path, '-noout', '-text']),
  };
}

describe('meshca certs inspect', () => {
  let dir: TempDir;
  let out: string;
  let blocks: string[];
  before(async () => {
    dir = makeTempDir('meshca-inspect-');
    await runMeshcaOk(['certs', 'root-ca'], { cwd: dir.path });
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--key-type', 'rsa-2048'], { cwd: dir.path });
    await runMeshcaOk(['certs', 'workload', 'cluster1', '--service-account', 'httpbin'], { cwd: dir.path });
    const r = await runMeshcaOk(
      ['certs', 'inspect', 'root-cert.pem', 'cluster1/ca-cert.pem', 'cluster1/workload-cert.pem'],
      { cwd: dir.path },
    );
    out = r.stdout;
    blocks = out.split(/\n(?=\S+\.pem(?: \[\d+\/\d+\])?\n)/);
  });
  after(() => dir?.remove());

  it('prints one titled block per certificate', () => {
    assert.equal(blocks.length, 3);
    assert.deepEqual(
      blocks.map((b) => b.split('\n')[0]),
      ['root-cert.pem', 'cluster1/ca-cert.pem', 'cluster1/workload-cert.pem'],
    );
  });

  for (const [i, file] of ['root-cert.pem', 'cluster1/ca-cert.pem', 'cluster1/workload-cert.pem'].entries()) {
    it(`${file}: subject, issuer, serial, validity and SHA-256 fingerprint are openssl's`, async () => {
      const ours = rows(blocks[i]!);
      const theirs = await opensslFacts(dir.file(file));
      assert.equal(ours.get('Subject'), theirs.subject === '' ? '(empty)' : theirs.subject);
      assert.equal(ours.get('Issuer'), theirs.issuer);
      assert.equal(ours.get('Serial'), theirs.serial);
      assert.equal(ours.get('Not before'), theirs.notBefore);
      assert.equal(ours.get('SHA-256 fingerprint'), theirs.fingerprint);
      // Not after, and the whole days (or hours) left until then.
      const m = /^(\S+) \((\d+) (day|days|hour|hours) left\)$/.exec(ours.get('Not after')!);
      assert.ok(m, ours.get('Not after'));
      assert.equal(m[1], theirs.notAfter);
      const unit = m[3]!.startsWith('day') ? DAY_MS : DAY_MS / 24;
      const left = (theirs.notAfterMs - Date.now()) / unit;
      assert.ok(Number(m[2]) <= left && Number(m[2]) >= Math.floor(left) - 1, `${m[2]} ${m[3]} ≈ ${left}`);
    });
  }

  it('root: key type, CA flag, key usages, no SANs, self-signed', async () => {
    const r = rows(blocks[0]!);
    assert.equal(r.get('Subject'), 'O=Istio, CN=Root CA');
    assert.equal(r.get('Key'), 'EC P-256');
    assert.equal(r.get('Signature'), 'ecdsa-with-SHA256');
    assert.equal(r.get('SANs'), '(none)');
    assert.equal(r.get('CA'), 'yes (CA:TRUE, critical)');
    assert.equal(r.get('Key usage'), 'Digital Signature, Certificate Sign, CRL Sign (critical)');
    assert.equal(r.get('Self-signed'), 'yes');
    assert.match((await opensslFacts(dir.file('root-cert.pem'))).text, /NIST CURVE: P-256/);
  });

  it('intermediate: RSA key, pathlen, DNS SAN, key identifiers as openssl prints them', async () => {
    const r = rows(blocks[1]!);
    const text = (await opensslFacts(dir.file('cluster1/ca-cert.pem'))).text;
    assert.equal(r.get('Key'), 'RSA 2048');
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.equal(r.get('SANs'), 'DNS:istiod.istio-system.svc');
    assert.equal(r.get('CA'), 'yes (CA:TRUE, pathlen:0, critical)');
    assert.equal(r.get('Self-signed'), 'no');
    assert.ok(text.includes(`X509v3 Subject Key Identifier: \n                ${r.get('Subject key ID')}\n`));
    assert.ok(
      text.includes(`X509v3 Authority Key Identifier: \n                ${r.get('Authority key ID')}\n`),
    );
  });

  it('workload: empty subject, critical SPIFFE URI SAN, CA:FALSE, usages', () => {
    const r = rows(blocks[2]!);
    assert.equal(r.get('Subject'), '(empty)');
    assert.equal(r.get('SANs'), 'URI:spiffe://cluster.local/ns/cluster1/sa/httpbin (critical)');
    assert.equal(r.get('CA'), 'no (CA:FALSE, critical)');
    assert.equal(r.get('Key usage'), 'Digital Signature (critical)');
    assert.equal(r.get('Ext key usage'), 'serverAuth, clientAuth');
    assert.match(r.get('Not after')!, /\((23 hours|1 day) left\)$/);
    // Signed by the RSA intermediate.
    assert.equal(r.get('Signature'), 'sha256WithRSAEncryption');
  });

  it('numbers the certificates of a bundle file', async () => {
    const r = await runMeshcaOk(['certs', 'inspect', 'cluster1/workload-cert-chain.pem'], { cwd: dir.path });
    const titles = r.stdout.split('\n').filter((l) => l.startsWith('cluster1/'));
    assert.deepEqual(titles, [
      'cluster1/workload-cert-chain.pem [1/3]',
      'cluster1/workload-cert-chain.pem [2/3]',
      'cluster1/workload-cert-chain.pem [3/3]',
    ]);
  });

  it('says how long ago an expired certificate expired', async () => {
    const key = await generateKey('ec-p256');
    const old = await createRootCertificate({
      key,
      subject: { O: 'Istio', CN: 'Old Root' },
      days: 30,
      now: new Date(Date.now() - 100 * DAY_MS),
    });
    writeFileSync(dir.file('old.pem'), old.pem);
    const r = await runMeshcaOk(['certs', 'inspect', 'old.pem'], { cwd: dir.path });
    const notAfter = old.notAfter.toISOString().replace('.000Z', 'Z');
    assert.match(
      rows(r.stdout).get('Not after')!,
      new RegExp(`^${notAfter} \\(EXPIRED (69|70) days ago\\)$`),
    );
  });

  it('refuses a file that is missing or not PEM, naming it; and needs at least one file', async () => {
    const missing = await runMeshca(['certs', 'inspect', 'nope.pem'], { cwd: dir.path });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`^meshca certs: cannot read ${dir.path}/nope\\.pem: ENOENT`));
    writeFileSync(dir.file('junk.pem'), 'not pem\n');
    const junk = await runMeshca(['certs', 'inspect', 'junk.pem'], { cwd: dir.path });
    assert.equal(junk.code, 2);
    assert.equal(
      junk.stderr,
      `meshca certs: ${dir.path}/junk.pem: no PEM block found (expected "-----BEGIN …-----"); check that this is a PEM file and not DER or an empty file\n`,
    );
    const none = await runMeshca(['certs', 'inspect'], { cwd: dir.path });
    assert.equal(none.code, 2);
    assert.equal(none.stderr, 'meshca certs: name at least one file\nUsage: meshca certs inspect FILE…\n');
  });
});
