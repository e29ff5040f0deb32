// verifyChain on chains minted here, valid and broken; every verdict is compared with
// `openssl verify -auth_level 1 -CAfile roots -untrusted intermediates leaf`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createIntermediateCertificate } from '../../src/pki/create-intermediate-certificate.js';
import { createRootCertificate } from '../../src/pki/create-root-certificate.js';
import { keyFromPrivateKey, readPrivateKey } from '../../src/pki/keys.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import type { CertificateInfo } from '../../src/pki/types.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { openssl } from '../support/openssl.js';
import { opensslIssue, opensslKey, opensslSelfSigned } from '../support/openssl-ca.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { INT, judgeChain, LEAF_EXT, pathOf, ROOT, reasonsOf, samples } from './verify-chain-judge.js';

const DAY = 24 * 60 * 60 * 1000;
const CA_EXT = [
  'basicConstraints=critical,CA:TRUE',
  'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
];

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

let dir: TempDir;

const judge = (o: Parameters<typeof judgeChain>[1]) => judgeChain(dir, o);

before(() => {
  dir = makeTempDir();
});
after(() => dir.remove());

describe('verifyChain on chains minted here', async () => {
  let rootKey: string;
  let root: CertificateInfo;
  let rootPath: string;
  let intKey: string;
  let int: CertificateInfo;
  let intPath: string;

  /** A leaf for a fresh key, signed with openssl by the CA in caPath/caKey. */
  const leafUnder = async (
    caPath: string,
    caKey: string,
    subj = '/CN=workload',
    extra: Partial<{ digest: string; ext: string[] }> = {},
  ) =>
    parseCertificate(
      await opensslIssue(dir, {
        subj,
        key: await opensslKey(dir, 'leaf'),
        caCert: caPath,
        caKey,
        days: 2,
        ext: LEAF_EXT,
        ...extra,
      }),
    );

  before(async () => {
    rootKey = await opensslKey(dir, 'root');
    const rk = readPrivateKey(readFileSync(rootKey, 'utf8'));
    root = await createRootCertificate({ key: rk, subject: { O: 'Istio', CN: 'Root CA' }, days: 365 });
    rootPath = dir.write('root.pem', root.pem);
    intKey = await opensslKey(dir, 'int');
    int = await createIntermediateCertificate({
      subjectPublicKey: readPrivateKey(readFileSync(intKey, 'utf8')),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: { certificate: root, key: keyFromPrivateKey(rk) },
      days: 30,
    });
    intPath = dir.write('int.pem', int.pem);
  });

  const issuer = () => ({
    certificate: root,
    key: keyFromPrivateKey(readPrivateKey(readFileSync(rootKey, 'utf8'))),
  });
  const intKeyObject = () => readPrivateKey(readFileSync(intKey, 'utf8'));

  it('accepts a leaf that is itself a trusted root', async () => {
    assert.deepEqual(pathOf(await judge({ leaf: root, roots: [root] })), [ROOT]);
  });

  it('finds the path in a jumbled pool holding extra certificates and the root', async () => {
    const k2 = await opensslKey(dir, 'int2');
    const int1 = await createIntermediateCertificate({
      subjectPublicKey: intKeyObject(),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: issuer(),
      days: 30,
      pathLen: 1,
    });
    const int2 = await createIntermediateCertificate({
      subjectPublicKey: readPrivateKey(readFileSync(k2, 'utf8')),
      subject: { O: 'Istio', CN: 'Second CA' },
      issuer: { certificate: int1, key: keyFromPrivateKey(intKeyObject()) },
      days: 30,
    });
    const leaf = await leafUnder(dir.write('int2.pem', int2.pem), k2);
    const stranger = samples('ca-cert-alt.pem')[0]!;
    const verdict = await judge({ leaf, intermediates: [stranger, root, int2, int1, leaf], roots: [root] });
    assert.deepEqual(pathOf(verdict), ['CN=workload', 'O=Istio, CN=Second CA', INT, ROOT]);
  });

  it('prefers the valid one of two intermediates with the same name and key', async () => {
    const expired = await createIntermediateCertificate({
      subjectPublicKey: intKeyObject(),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: issuer(),
      days: 30,
      now: new Date(Date.now() - 100 * DAY),
    });
    const leaf = await leafUnder(intPath, intKey);
    const verdict = await judge({ leaf, intermediates: [expired, int], roots: [root] });
    assert.equal(verdict.ok && verdict.path[1]!.fingerprint256, int.fingerprint256);
  });

  it('accepts a SHA-1 self-signature on the root itself', async () => {
    const k = await opensslKey(dir, 'sha1-root');
    const sha1Root = parseCertificate(
      await opensslSelfSigned(dir, { subj: '/CN=Old Root', key: k, digest: 'sha1', ext: CA_EXT }),
    );
    assert.equal(sha1Root.signatureHash, 'sha1');
    const leaf = await leafUnder(dir.write('sha1-root.pem', sha1Root.pem), k);
    assert.ok((await judge({ leaf, roots: [sha1Root] })).ok);
  });

  it('refuses a leaf used as a CA', async () => {
    const workloadKey = await opensslKey(dir, 'workload');
    const workload = parseCertificate(
      await opensslIssue(dir, {
        subj: '/CN=workload',
        key: workloadKey,
        caCert: rootPath,
        caKey: rootKey,
        days: 2,
        ext: LEAF_EXT,
      }),
    );
    const victim = await leafUnder(dir.write('workload.pem', workload.pem), workloadKey, '/CN=victim');
    const verdict = await judge({ leaf: victim, intermediates: [workload], roots: [root] });
    assert.deepEqual(reasonsOf(verdict), [
      '"CN=workload" is not a CA (basicConstraints CA:FALSE) but issued "CN=victim"',
      '"CN=workload" may not sign certificates (its keyUsage lacks Certificate Sign) but issued "CN=victim"',
    ]);
  });

  it('refuses an expired intermediate', async () => {
    const expired = await createIntermediateCertificate({
      subjectPublicKey: intKeyObject(),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: issuer(),
      days: 30,
      now: new Date(Date.now() - 400 * DAY),
    });
    const leaf = await leafUnder(dir.write('expired.pem', expired.pem), intKey);
    const verdict = await judge({ leaf, intermediates: [expired], roots: [root] });
    assert.deepEqual(reasonsOf(verdict), [`certificate "${INT}" expired at ${iso(expired.notAfter)}`]);
  });

  it('refuses an expired root', async () => {
    const k = readPrivateKey(readFileSync(rootKey, 'utf8'));
    const old = await createRootCertificate({
      key: k,
      subject: { O: 'Old', CN: 'Root CA' },
      days: 10,
      now: new Date(Date.now() - 50 * DAY),
    });
    const child = await createIntermediateCertificate({
      subjectPublicKey: intKeyObject(),
      subject: { CN: 'Child CA' },
      issuer: { certificate: old, key: keyFromPrivateKey(k) },
      days: 10,
    });
    assert.deepEqual(reasonsOf(await judge({ leaf: child, roots: [old] })), [
      `certificate "O=Old, CN=Root CA" expired at ${iso(old.notAfter)}`,
    ]);
  });

  it('refuses a SHA-1 signature below the root (which plain `openssl verify` still accepts)', async () => {
    const sha1Int = parseCertificate(
      await opensslIssue(dir, {
        subj: '/O=Istio/CN=Intermediate CA/L=cluster1',
        key: intKey,
        caCert: rootPath,
        caKey: rootKey,
        digest: 'sha1',
        ext: CA_EXT,
      }),
    );
    assert.equal(sha1Int.signatureAlgorithm, 'ecdsa-with-SHA1');
    const verdict = await judge({ leaf: sha1Int, roots: [root] });
    assert.deepEqual(reasonsOf(verdict), [`"${INT}" is signed with SHA-1, which is refused`]);
    const atLevel0 = await openssl(['verify', '-CAfile', rootPath, dir.write('sha1-int.pem', sha1Int.pem)]);
    assert.equal(atLevel0.status, 0, 'OpenSSL 3.0 at its default auth level accepts SHA-1');
  });

  it('refuses an RSA key below 1024 bits', async () => {
    const weak = await opensslKey(dir, 'weak', 'rsa-512');
    const leaf = parseCertificate(
      await opensslIssue(dir, {
        subj: '/CN=weak',
        key: weak,
        caCert: rootPath,
        caKey: rootKey,
        days: 1,
        ext: LEAF_EXT,
      }),
    );
    assert.deepEqual(reasonsOf(await judge({ leaf, roots: [root] })), [
      '"CN=weak" has a 512-bit RSA key, which is refused (at least 1024 bits)',
    ]);
  });

  it('refuses a chain with a missing intermediate', async () => {
    const leaf = await leafUnder(intPath, intKey);
    assert.deepEqual(reasonsOf(await judge({ leaf, roots: [root] })), [
      `no issuer found for "CN=workload" (issuer "${INT}"): the chain is missing an intermediate`,
    ]);
  });

  it('refuses a chain that exceeds a path length constraint', async () => {
    // int has pathlen:0; openssl lets it sign a further CA, which meshca itself would refuse to do.
    const k = await opensslKey(dir, 'deep');
    const deep = parseCertificate(
      await opensslIssue(dir, {
        subj: '/O=Istio/CN=Too Deep CA',
        key: k,
        caCert: intPath,
        caKey: intKey,
        ext: CA_EXT,
      }),
    );
    const leaf = await leafUnder(dir.write('deep.pem', deep.pem), k);
    const verdict = await judge({ leaf, intermediates: [deep, int], roots: [root] });
    assert.deepEqual(reasonsOf(verdict), [`path length constraint of "${INT}" (pathlen:0) exceeded`]);
  });

  it('refuses a certificate whose signature does not verify', async () => {
    const der = Buffer.from(int.der);
    der[der.length - 1] = der[der.length - 1]! ^ 0x01;
    const forged = parseCertificate(der, 'forged');
    const verdict = await judge({ leaf: forged, roots: [root] });
    assert.deepEqual(reasonsOf(verdict), [`signature of "${INT}" does not verify with the key of "${ROOT}"`]);
  });

  it('refuses a self-signed certificate that is not a trusted root', async () => {
    const k = await opensslKey(dir, 'evil');
    const evil = parseCertificate(
      await opensslSelfSigned(dir, { subj: '/O=Evil/CN=Root CA', key: k, ext: CA_EXT }),
    );
    assert.deepEqual(reasonsOf(await judge({ leaf: evil, roots: [root] })), [
      '"O=Evil, CN=Root CA" is self-signed but is not one of the trusted roots; add it to the roots if it should be trusted',
    ]);
  });

  it('names a look-alike issuer whose key identifier does not match', async () => {
    const k = readPrivateKey(readFileSync(await opensslKey(dir, 'lookalike'), 'utf8'));
    const lookalike = await createRootCertificate({
      key: k,
      subject: { O: 'Istio', CN: 'Root CA' },
      days: 10,
    });
    assert.deepEqual(reasonsOf(await judge({ leaf: int, roots: [lookalike] })), [
      `no issuer found for "${INT}" (issuer "${ROOT}"): the chain is missing an intermediate (a certificate named "${ROOT}" is present, but its key identifier is not the one "${INT}" was signed by)`,
    ]);
  });

  it('reports every problem at once', async () => {
    const expired = await createIntermediateCertificate({
      subjectPublicKey: intKeyObject(),
      subject: { O: 'Istio', CN: 'Intermediate CA', L: 'cluster1' },
      issuer: issuer(),
      days: 30,
      now: new Date(Date.now() - 400 * DAY),
    });
    const leaf = await leafUnder(dir.write('expired2.pem', expired.pem), intKey, '/CN=workload', {
      digest: 'sha1',
    });
    assert.deepEqual(reasonsOf(await judge({ leaf, intermediates: [expired], roots: [root] })), [
      '"CN=workload" is signed with SHA-1, which is refused',
      `certificate "${INT}" expired at ${iso(expired.notAfter)}`,
    ]);
  });

  it('checks validity at the time given', async () => {
    const at = new Date(root.notBefore.getTime() - DAY);
    assert.deepEqual(reasonsOf(await judge({ leaf: int, roots: [root], at })), [
      `certificate "${INT}" is not valid before ${iso(int.notBefore)}`,
      `certificate "${ROOT}" is not valid before ${iso(root.notBefore)}`,
    ]);
    assert.ok((await judge({ leaf: int, roots: [root], at: new Date(int.notAfter.getTime() - DAY) })).ok);
  });

  it('says so when there is no root at all', () => {
    assert.deepEqual(reasonsOf(verifyChain({ leaf: int, roots: [] })), [
      'no trusted root certificate was given, so nothing can be trusted',
    ]);
  });
});
