// SPIFFE IDs from certificates: Node's subjectaltname strings (quoted and not) and real leaves.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  isSpiffeId,
  parseSubjectAltName,
  peerSpiffeId,
  spiffeIdFromSubjectAltName,
  trustDomainOf,
} from '../../src/proxy/peer-identity.js';
import { createMeshCa, issueWorkloadCert } from '../support/mesh-certs.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const SLEEP = 'spiffe://cluster.local/ns/foo/sa/sleep';

describe('peer identity', () => {
  let dir: TempDir;
  before(() => {
    dir = makeTempDir('meshca-proxy-peer-');
  });
  after(() => dir.remove());

  it('splits subjectaltname, unquoting JSON-quoted values', () => {
    assert.deepEqual(
      parseSubjectAltName(`DNS:a.example, URI:${SLEEP}, URI:"spiffe://td/a,b", IP Address:127.0.0.1`),
      [
        ['DNS', 'a.example'],
        ['URI', SLEEP],
        ['URI', 'spiffe://td/a,b'],
        ['IP Address', '127.0.0.1'],
      ],
    );
    assert.deepEqual(parseSubjectAltName(undefined), []);
  });

  it('takes the first well-formed spiffe:// URI', () => {
    assert.equal(
      spiffeIdFromSubjectAltName(`URI:https://example.com, URI:${SLEEP}, URI:spiffe://td/other`),
      SLEEP,
    );
    assert.equal(spiffeIdFromSubjectAltName('DNS:sleep.foo.svc'), undefined);
    assert.equal(spiffeIdFromSubjectAltName('URI:spiffe://cluster.local'), undefined);
  });

  it('validates SPIFFE IDs and extracts trust domains', () => {
    assert.equal(isSpiffeId(SLEEP), true);
    assert.equal(isSpiffeId('spiffe://Cluster.local/ns/foo'), false);
    assert.equal(isSpiffeId('spiffe://td/ns//sa'), false);
    assert.equal(isSpiffeId('spiffe://td/ns/../sa'), false);
    assert.equal(isSpiffeId('spiffe://td/ns/foo?x=1'), false);
    assert.equal(trustDomainOf(SLEEP), 'cluster.local');
    assert.equal(trustDomainOf('https://cluster.local/x'), undefined);
  });

  it('reads the SPIFFE ID of an openssl-made leaf', async () => {
    const ca = await createMeshCa(dir.path);
    const cert = await issueWorkloadCert(ca, { spiffeId: SLEEP });
    assert.equal(peerSpiffeId(new X509Certificate(cert.leafPem)), SLEEP);
    assert.equal(peerSpiffeId({ subjectaltname: `URI:${SLEEP}` }), SLEEP);
    assert.equal(peerSpiffeId({}), undefined);
    assert.equal(peerSpiffeId(undefined), undefined);
  });
});
