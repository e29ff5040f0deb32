// checkWorkloadSvid against the Istio sample workload certificates and leaves openssl makes to
// break one SPIFFE X.509-SVID rule at a time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { checkWorkloadSvid } from '../../src/pki/check-workload-svid.js';
import { parseCertificate } from '../../src/pki/parse-certificate.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { opensslIssue, opensslKey, opensslSelfSigned } from '../support/openssl-ca.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const SAMPLES = SAMPLES_DIR;
const GOOD = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth,clientAuth',
];
const ID = 'spiffe://cluster.local/ns/default/sa/sleep';

describe('checkWorkloadSvid', async () => {
  let dir: TempDir;
  let caKey: string;
  let caCert: string;
  before(async () => {
    dir = makeTempDir();
    caKey = await opensslKey(dir, 'ca');
    caCert = dir.write(
      'ca.pem',
      await opensslSelfSigned(dir, {
        subj: '/O=Istio/CN=Root CA',
        key: caKey,
        ext: ['basicConstraints=critical,CA:TRUE'],
      }),
    );
  });
  after(() => dir.remove());

  const leaf = async (ext: string[], subj = '/') =>
    parseCertificate(
      await opensslIssue(dir, { subj, key: await opensslKey(dir, 'leaf'), caCert, caKey, days: 1, ext }),
    );

  it('finds nothing wrong with the Istio sample workload certificates', async () => {
    for (const who of ['foo', 'bar']) {
      const cert = parseCertificate(readFileSync(`${SAMPLES}/leaf-workload-${who}-cert.pem`, 'utf8'));
      assert.deepEqual(checkWorkloadSvid(cert), []);
    }
  });

  it('finds nothing wrong with a well-made leaf', async () => {
    assert.deepEqual(checkWorkloadSvid(await leaf([...GOOD, `subjectAltName=critical,URI:${ID}`])), []);
  });

  it('wants exactly one URI SAN, and a valid SPIFFE ID with a path', async () => {
    assert.deepEqual(checkWorkloadSvid(await leaf([...GOOD, 'subjectAltName=critical,DNS:a.example'])), [
      '"a.example" has 0 URI SANs; an SVID has exactly one, its SPIFFE ID',
    ]);
    assert.deepEqual(
      checkWorkloadSvid(await leaf([...GOOD, `subjectAltName=critical,URI:${ID},URI:${ID}2`])),
      [`"${ID}" has 2 URI SANs; an SVID has exactly one, its SPIFFE ID`],
    );
    assert.deepEqual(
      checkWorkloadSvid(await leaf([...GOOD, 'subjectAltName=critical,URI:spiffe://cluster.local'])),
      [
        '"spiffe://cluster.local": the SPIFFE ID "spiffe://cluster.local" has no path; a workload ID names a workload',
      ],
    );
    const [problem] = checkWorkloadSvid(
      await leaf([...GOOD, 'subjectAltName=critical,URI:https://cluster.local/x']),
    );
    // The rule's wording belongs to spiffe-id.ts; here it matters that the certificate and the ID are named.
    assert.match(problem!, /^"https:\/\/cluster.local\/x": invalid SPIFFE ID "https:\/\/cluster.local\/x": /);
  });

  it('refuses CA:TRUE and signing key usages', async () => {
    const cert = await leaf([
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
      `subjectAltName=critical,URI:${ID}`,
    ]);
    assert.deepEqual(checkWorkloadSvid(cert), [
      `"${ID}" is a CA (basicConstraints CA:TRUE); an SVID leaf must have CA:FALSE`,
      `"${ID}": keyUsage lacks Digital Signature, which an SVID leaf must have`,
      `"${ID}": keyUsage has Certificate Sign, which an SVID leaf must not have`,
      `"${ID}": keyUsage has CRL Sign, which an SVID leaf must not have`,
    ]);
  });

  it('wants keyUsage present and critical, and both TLS usages when extKeyUsage is there', async () => {
    assert.deepEqual(checkWorkloadSvid(await leaf([`subjectAltName=critical,URI:${ID}`])), [
      `"${ID}" has no keyUsage extension; an SVID must have one, marked critical`,
    ]);
    assert.deepEqual(
      checkWorkloadSvid(
        await leaf([
          'keyUsage=digitalSignature',
          'extendedKeyUsage=serverAuth',
          `subjectAltName=critical,URI:${ID}`,
        ]),
      ),
      [
        `"${ID}": keyUsage is not marked critical; an SVID must mark it critical`,
        `"${ID}": extKeyUsage lacks clientAuth; when present it must have both serverAuth and clientAuth`,
      ],
    );
  });

  it('wants the SAN critical when the subject is empty, and not otherwise', async () => {
    assert.deepEqual(checkWorkloadSvid(await leaf([...GOOD, `subjectAltName=URI:${ID}`])), [
      `"${ID}" has an empty subject, so its subjectAltName must be marked critical (RFC 5280 4.1.2.6)`,
    ]);
    assert.deepEqual(
      checkWorkloadSvid(await leaf([...GOOD, `subjectAltName=URI:${ID}`], '/O=cluster.local')),
      [],
    );
  });
});
