// The conformance suite every Signer backend runs: the same requests, good and bad, must give the
// same shape of chain (judged by openssl), the same SPIFFE leaf, and the same kinds of refusal,
// whatever holds the CA key. A backend's test file calls runSignerConformance with a factory.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isMeshcaError, type MeshcaError, unavailable } from '../../../src/errors.js';
import type { Signer, SignRequest } from '../../../src/issuance/signers/signer.js';
import { buildWorkloadCsr } from '../../../src/pki/build-workload-csr.js';
import { parseCertificate } from '../../../src/pki/parse-certificate.js';
import { parseCsr } from '../../../src/pki/parse-csr.js';
import { decodePem, encodePem } from '../../../src/pki/pem.js';
import type { CertificateInfo } from '../../../src/pki/types.js';
import { openssl, opensslCsr } from '../../support/openssl.js';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';

/** What a backend's test file hands the suite; the suite closes the signer, then calls cleanup. */
export interface SignerSubject {
  signer: Signer;
  /** The roots (PEM) the backend's chains must end in, as the test set the backend up. */
  rootsPem: string[];
  /**
   * What the backend does with a lifetime beyond what it grants: cut it to end at `notAfter` (the
   * end of its signing CA), or refuse it as `invalid-input`, granting at most `maxSeconds`. A backend
   * with another policy adds a kind; `capped-duration` cuts it to `maxSeconds` from now, as a
   * Kubernetes CSR signer caps `expirationSeconds`.
   */
  ttlLimit:
    | { kind: 'capped'; notAfter: Date }
    | { kind: 'refused'; maxSeconds: number }
    | { kind: 'capped-duration'; maxSeconds: number }

    // Cut to end by `notAfter`, within a minute of it: a backend that asks a remote signer for the
    // seconds left cannot know the second the signer starts counting (the Kubernetes CSR API's).
    | { kind: 'capped-near'; notAfter: Date };
  /**
   * Whether the backend itself refuses a CSR that names another identity than the one requested
   * (as `invalid-input`); one that does not must still certify the requested identity only.
   */
  refusesOtherCsrIdentity: boolean;
  /**
   * What the backend does with a CSR that asks for a CA certificate: issue a leaf all the same, or
   * refuse it as `invalid-input` (a backend whose remote signer would certify what the CSR asks, as
   * a Kubernetes CSR signer does). Never a CA. Default: a leaf.
   */
  caCsr?: 'leaf' | 'refused';
  cleanup?(): Promise<void>;
}

const TRUST_DOMAIN = 'cluster.local';
const HOUR = 3600;
/** Leeway for clocks read a moment apart (ours, the backend's) and for whole-second validity. */
const SLACK_MS = 5000;

const idFor = (serviceAccount: string) => `spiffe://${TRUST_DOMAIN}/ns/conformance/sa/${serviceAccount}`;
const newKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;

/** A request as the RA makes one: a workload's CSR for its own identity, parsed and checked. */
function requestFor(spiffeId: string, ttlSeconds = HOUR, key: KeyObject = newKey()): SignRequest {
  const csrPem = buildWorkloadCsr({ key, uri: spiffeId });
  return { csrPem, csr: parseCsr(csrPem), spiffeId, ttlSeconds, requestId: 'conformance' };
}

/** Runs the whole suite against the backend `setup` builds. */
export function runSignerConformance(name: string, setup: () => Promise<SignerSubject>): void {
  describe(`Signer conformance: ${name}`, () => {
    let s: SignerSubject;
    let roots: CertificateInfo[];
    let tmp: TempDir;
    before(async () => {
      s = await setup();
      roots = s.rootsPem.map((pem) => parseCertificate(pem, 'the backend root'));
      tmp = makeTempDir('meshca-signer-conformance-');
    });
    after(async () => {
      tmp?.remove();
      await s?.signer.close();
      await s?.cleanup?.();
    });

    /** The chain as certificates, leaf first; a trailing root, which backends may send, dropped. */
    function certificatesOf(chain: string[]): CertificateInfo[] {
      const certs = chain.map((pem, i) => parseCertificate(pem, `chain element ${i}`));
      const last = certs.at(-1);
      const isOurRoot = (c: CertificateInfo) => roots.some((r) => r.fingerprint256 === c.fingerprint256);
      return certs.length > 1 && last && isOurRoot(last) ? certs.slice(0, -1) : certs;
    }

    let judged = 0;
    /** openssl's verdict on leaf + intermediates against the backend's roots, for one purpose. */
    async function opensslVerdict(
      chain: CertificateInfo[],
      purpose: 'sslclient' | 'sslserver',
    ): Promise<string> {
      const n = ++judged;
      const args = ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', tmp.file('roots.pem')];
      tmp.write('roots.pem', s.rootsPem.join(''));
      if (chain.length > 1)
        args.push(
          '-untrusted',
          tmp.write(
            `untrusted-${n}.pem`,
            chain
              .slice(1)
              .map((c) => c.pem)
              .join(''),
          ),
        );
      const leaf = tmp.write(`leaf-${n}.pem`, chain[0]!.pem);
      const result = await openssl([...args, leaf]);
      assert.equal(result.status, 0, `openssl verify -purpose ${purpose}: ${result.stdout}${result.stderr}`);
      return result.stdout.trim().slice(leaf.length);
    }

    /** Expects a refusal: a MeshcaError of `kind`, never a certificate. */
    async function refused(request: SignRequest, kind: MeshcaError['kind']): Promise<MeshcaError> {
      const err = await s.signer.sign(request).then(
        (signed) => assert.fail(`expected a refusal (${kind}), but it signed: ${signed.chain[0]}`),
        (e: unknown) => e,
      );
      assert.ok(isMeshcaError(err), `expected a MeshcaError, got ${String(err)}`);
      assert.equal(err.kind, kind, `${err.code}: ${err.message}`);
      return err;
    }

    describe('chain', () => {
      it("is the leaf, then each intermediate, each issued by the next, ending under the backend's root", async () => {
        const chain = certificatesOf((await s.signer.sign(requestFor(idFor('chain')))).chain);
        assert.ok(chain.length >= 1);
        assert.equal(chain[0]!.isCa, false, 'the first certificate is the leaf');
        for (const [i, cert] of chain.entries()) {
          if (i > 0) assert.equal(cert.isCa, true, `element ${i} is a CA`);
          assert.equal(cert.selfSigned, false, `element ${i} is not a root`);
          const issuer = chain[i + 1] ?? roots.find((r) => r.subject === cert.issuer);
          assert.ok(issuer, `element ${i} (${cert.subject}) is issued by the next one or by a root`);
          assert.ok(cert.x509.checkIssued(issuer.x509), `element ${i} names ${issuer.subject} as issuer`);
          assert.ok(cert.x509.verify(issuer.publicKey), `element ${i} is signed by ${issuer.subject}`);
        }
      });

      it('verifies with openssl against the roots, for TLS clients and servers alike', async () => {
        const chain = certificatesOf((await s.signer.sign(requestFor(idFor('openssl')))).chain);
        for (const purpose of ['sslclient', 'sslserver'] as const)
          assert.equal(await opensslVerdict(chain, purpose), ': OK');
      });

      it("roots() names the backend's roots", async () => {
        const fingerprints = (pems: string[]) =>
          pems.flatMap((p) => decodePem(p)).map((b) => new X509Certificate(b.der).fingerprint256);
        assert.deepEqual(
          new Set(fingerprints(await s.signer.roots())),
          new Set(roots.map((r) => new X509Certificate(r.der).fingerprint256)),
        );
      });
    });

    describe('SPIFFE leaf', () => {
      it('names the requested identity as its one URI SAN and nothing else; no common name is needed', async () => {
        const request = requestFor(idFor('spiffe'));
        const leaf = certificatesOf((await s.signer.sign(request)).chain)[0]!;
        assert.deepEqual(leaf.uris, [request.spiffeId]);
        assert.deepEqual([leaf.dnsNames, leaf.ips, leaf.emails], [[], [], []]);
        // A certificate whose subject is empty has the SAN as its only name (RFC 5280 4.2.1.6).
        if (leaf.subject === '')
          assert.equal(leaf.sanCritical, true, 'with an empty subject the SAN is critical');
        assert.doesNotMatch(leaf.subject, /spiffe:/, 'the identity lives in the SAN, not the subject');
      });

      it("certifies the CSR's key", async () => {
        const key = newKey();
        const leaf = certificatesOf((await s.signer.sign(requestFor(idFor('key'), HOUR, key))).chain)[0]!;
        assert.deepEqual(
          leaf.publicKey.export({ format: 'der', type: 'spki' }),
          createPublicKey(key).export({ format: 'der', type: 'spki' }),
        );
      });

      it('is no CA: CA:FALSE, digital signature without certificate or CRL signing, client and server auth', async () => {
        const leaf = certificatesOf((await s.signer.sign(requestFor(idFor('usage')))).chain)[0]!;
        assert.equal(leaf.isCa, false);
        assert.ok(leaf.keyUsage?.includes('Digital Signature'), `keyUsage ${leaf.keyUsage}`);
        for (const forbidden of ['Certificate Sign', 'CRL Sign'])
          assert.ok(!leaf.keyUsage?.includes(forbidden), `keyUsage ${leaf.keyUsage} has ${forbidden}`);
        assert.deepEqual([...(leaf.extKeyUsage ?? [])].sort(), ['clientAuth', 'serverAuth']);
      });

      it('stays a leaf when the CSR asks for a CA certificate', async () => {
        const spiffeId = idFor('wants-ca');
        const csrPem = await opensslCsr(tmp, newKey(), [
          `subjectAltName=URI:${spiffeId}`,
          'basicConstraints=critical,CA:TRUE',
          'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        ]);
        const request = {
          csrPem,
          csr: parseCsr(csrPem),
          spiffeId,
          ttlSeconds: HOUR,
          requestId: 'conformance',
        };
        assert.equal(request.csr.requestsCa, true);
        if (s.caCsr === 'refused') {
          await refused(request, 'invalid-input');
          return;
        }
        const leaf = certificatesOf((await s.signer.sign(request)).chain)[0]!;
        assert.equal(leaf.isCa, false);
        assert.ok(!leaf.keyUsage?.includes('Certificate Sign'), `keyUsage ${leaf.keyUsage}`);
      });
    });

    describe('lifetime', () => {
      it('is the one asked for, from a moment before now', async () => {
        const t0 = Date.now();
        const leaf = certificatesOf((await s.signer.sign(requestFor(idFor('ttl'), 2 * HOUR))).chain)[0]!;
        const t1 = Date.now();
        assert.ok(
          leaf.notBefore.getTime() <= t1,
          `notBefore ${leaf.notBefore.toISOString()} is not in the future`,
        );
        assert.ok(leaf.notBefore.getTime() >= t0 - 10 * 60_000, 'backdated by minutes at most');
        const notAfter = leaf.notAfter.getTime();
        assert.ok(
          notAfter >= t0 + 2 * HOUR * 1000 - SLACK_MS && notAfter <= t1 + 2 * HOUR * 1000 + SLACK_MS,
          `notAfter ${leaf.notAfter.toISOString()} is 2 h after ${new Date(t0).toISOString()}`,
        );
      });

      it("is capped at, or refused beyond, the backend's limit; never longer", async () => {
        const limit = s.ttlLimit;
        if (limit.kind === 'capped-near') {
          const ttl = Math.ceil((limit.notAfter.getTime() - Date.now()) / 1000) + 7 * 24 * HOUR;
          const chain = certificatesOf((await s.signer.sign(requestFor(idFor('capped'), ttl))).chain);
          const end = chain[0]!.notAfter.getTime();
          assert.ok(
            end <= limit.notAfter.getTime(),
            `notAfter ${chain[0]!.notAfter.toISOString()} is not after ${limit.notAfter.toISOString()}`,
          );
          assert.ok(
            end >= limit.notAfter.getTime() - 60_000,
            `notAfter ${chain[0]!.notAfter.toISOString()} is within a minute of ${limit.notAfter.toISOString()}`,
          );
          assert.equal(await opensslVerdict(chain, 'sslclient'), ': OK');
        } else if (limit.kind === 'capped') {
          const ttl = Math.ceil((limit.notAfter.getTime() - Date.now()) / 1000) + 7 * 24 * HOUR;
          const chain = certificatesOf((await s.signer.sign(requestFor(idFor('capped'), ttl))).chain);
          const expected = Math.floor(limit.notAfter.getTime() / 1000) * 1000;
          assert.equal(chain[0]!.notAfter.getTime(), expected, 'ends with its signing CA');
          assert.equal(await opensslVerdict(chain, 'sslclient'), ': OK');
        } else if (limit.kind === 'capped-duration') {
          const t0 = Date.now();
          const leaf = certificatesOf(
            (await s.signer.sign(requestFor(idFor('capped'), limit.maxSeconds + 7 * 24 * HOUR))).chain,
          )[0]!;
          const t1 = Date.now();
          const notAfter = leaf.notAfter.getTime();
          assert.ok(
            notAfter >= t0 + limit.maxSeconds * 1000 - SLACK_MS &&
              notAfter <= t1 + limit.maxSeconds * 1000 + SLACK_MS,
            `notAfter ${leaf.notAfter.toISOString()} is ${limit.maxSeconds} s after ${new Date(t0).toISOString()}`,
          );
        } else {
          const at = certificatesOf(
            (await s.signer.sign(requestFor(idFor('at-limit'), limit.maxSeconds))).chain,
          )[0]!;
          assert.ok(at.notAfter.getTime() <= Date.now() + limit.maxSeconds * 1000 + SLACK_MS);
          await refused(requestFor(idFor('beyond-limit'), limit.maxSeconds + HOUR), 'invalid-input');
        }
      });

      it('refuses a lifetime that is not positive', async () => {
        for (const ttl of [0, -60]) await refused(requestFor(idFor('no-ttl'), ttl), 'invalid-input');
      });
    });

    describe('refuses', () => {
      it('a CSR that is not a PKCS#10 request', async () => {
        const garbage = encodePem('CERTIFICATE REQUEST', Buffer.from('not a certification request'));
        await refused(
          { csrPem: garbage, spiffeId: idFor('garbage'), ttlSeconds: HOUR, requestId: 'c' },
          'invalid-input',
        );
      });

      it('a CSR whose signature does not verify (no proof of possession of its key)', async () => {
        const { csrPem } = requestFor(idFor('forged'));
        const der = decodePem(csrPem)[0]!.der;
        der[der.length - 1]! ^= 0x01;
        const forged = encodePem('CERTIFICATE REQUEST', der);
        await refused(
          { csrPem: forged, spiffeId: idFor('forged'), ttlSeconds: HOUR, requestId: 'c' },
          'invalid-input',
        );
      });

      it("a CSR naming another identity, or certifies the requested one and never the CSR's", async () => {
        const key = newKey();
        const csrPem = buildWorkloadCsr({ key, uri: idFor('someone-else') });
        const request = {
          csrPem,
          csr: parseCsr(csrPem),
          spiffeId: idFor('caller'),
          ttlSeconds: HOUR,
          requestId: 'c',
        };
        if (s.refusesOtherCsrIdentity) {
          await refused(request, 'invalid-input');
        } else {
          const leaf = certificatesOf((await s.signer.sign(request)).chain)[0]!;
          assert.deepEqual(leaf.uris, [idFor('caller')]);
        }
      });

      it("to go on once the caller's signal has aborted, with the signal's reason", async () => {
        const reason = unavailable('RA_SIGNER_TIMEOUT', 'the signer took too long');
        const controller = new AbortController();
        controller.abort(reason);
        const err = await s.signer.sign(requestFor(idFor('aborted')), controller.signal).then(
          () => assert.fail('signed after the signal aborted'),
          (e: unknown) => e,
        );
        assert.equal(err, reason);
      });
    });

    describe('concurrency', () => {
      it('signs 50 requests at once: every chain valid, for its own identity and key, serials distinct', async () => {
        const requests = Array.from({ length: 50 }, (_, i) => requestFor(idFor(`concurrent-${i}`)));
        const chains = await Promise.all(requests.map((r) => s.signer.sign(r)));
        const serials = new Set<string>();
        for (const [i, signed] of chains.entries()) {
          const chain = certificatesOf(signed.chain);
          const leaf = chain[0]!;
          assert.deepEqual(leaf.uris, [requests[i]!.spiffeId]);
          assert.deepEqual(leaf.publicKey.export({ format: 'der', type: 'spki' }), requests[i]!.csr!.spkiDer);
          const issuer = chain[1] ?? roots.find((r) => r.subject === leaf.issuer)!;
          assert.ok(leaf.x509.verify(issuer.publicKey), `leaf ${i} is signed by its issuer`);
          serials.add(leaf.serialHex);
        }
        assert.equal(serials.size, requests.length);
        assert.equal(await opensslVerdict(certificatesOf(chains[49]!.chain), 'sslserver'), ': OK');
      });
    });
  });
}
