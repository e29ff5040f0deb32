// The root-rotation recorder on its own: for every certificate the local signer issues it records the
// leaf's expiry, the roots it was told to trust and the root its chain verifies under, which it
// remembers per signing key (issuer name and authority key id) and trust bundle. Two CAs with the
// same name and different keys, a chain through an intermediate, and a changed bundle must each be
// told apart as a signature check would.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IdentityRecord, IssuanceRecorder } from '../../src/ca/rotation/issuance-records.js';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import { LOCAL_SIGNER_NAME } from '../../src/issuance/ca-mode-issuance.js';
import type { Issuance, IssueRequest } from '../../src/issuance/issuance.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { issueWorkloadCertificate } from '../../src/pki/issue-workload-certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCsr } from '../../src/pki/parse-csr.js';
import type { Issuer, ParsedCsr } from '../../src/pki/types.js';
import { recordIssuances } from '../../src/server/record-issuances.js';
import { makeOpensslCa, type OpensslCa } from '../support/openssl-ca.js';

const ID = 'spiffe://cluster.local/ns/foo/sa/sleep';

let dir: string;
let csr: ParsedCsr;
let selfA: Issuer;
let selfB: Issuer;
let x: OpensslCa;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshca-record-issuances-'));
  const open = async (name: string) =>
    (
      await loadOrCreateSelfSignedCa({
        dir: join(dir, name),
        trustDomain: 'cluster.local',
        keyType: 'ec-p256',
      })
    ).bundle.issuer;
  selfA = await open('a');
  selfB = await open('b');
  x = await makeOpensslCa('ec-p256');
  csr = parseCsr(buildWorkloadCsr({ key: await generateKey('ec-p256'), uri: ID }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  x.cleanup();
});

/** Records what it is given; the recorder's file writing is tested with rotation. */
function memoryRecorder(): IssuanceRecorder & { last(): IdentityRecord } {
  let last: IdentityRecord | undefined;
  return {
    record: (_id, record) => {
      last = record;
    },
    current: () => ({ identities: {}, latestUnderRoot: {} }),
    flush: async () => {},
    close: async () => {},
    last: () => last!,
  };
}

/** An issuance that answers with a leaf from `issuer`, its intermediates, and `roots` last. */
async function answer(issuer: Issuer, intermediates: string[], roots: Issuer[]) {
  const leaf = await issueWorkloadCertificate({ issuer, csr, spiffeId: ID, ttlSeconds: 3600 });
  const issuance: Issuance = {
    issue: async () => ({
      certChain: [leaf.pem, ...intermediates, roots.map((r) => r.certificate.pem).join('')],
      signer: LOCAL_SIGNER_NAME,
      spiffeId: ID,
    }),
    rootsPem: () => '',
    knownSigner: () => undefined,
  };
  return { leaf, issuance };
}

describe('recordIssuances', () => {
  test('records the root each chain verifies under, telling apart same-name CAs, intermediates and bundles', async () => {
    assert.ok(
      selfA.certificate.subjectDer.equals(selfB.certificate.subjectDer),
      'the two self-signed roots share a name, so only the key tells them apart',
    );
    const recorder = memoryRecorder();
    const recording = recordIssuances(recorder, (err) => assert.fail(err));
    const fingerprint = (i: Issuer) => i.certificate.fingerprint256;
    const cases: [string, Issuer, string[], Issuer[], Issuer][] = [
      ['self-signed A', selfA, [], [selfA, selfB, x.root], selfA],
      ['A again (remembered)', selfA, [], [selfA, selfB, x.root], selfA],
      ['B, same name as A', selfB, [], [selfA, selfB, x.root], selfB],
      [
        'through an intermediate',
        x.intermediate,
        [x.intermediate.certificate.pem],
        [selfA, selfB, x.root],
        x.root,
      ],
      ['A again after B', selfA, [], [selfA, selfB, x.root], selfA],
      ['a new bundle that lists B first', selfB, [], [selfB, selfA], selfB],
    ];
    for (const [name, issuer, intermediates, roots, expected] of cases) {
      const { leaf, issuance } = await answer(issuer, intermediates, roots);
      await recording(issuance).issue({} as IssueRequest);
      const record = recorder.last();
      assert.equal(record.signedUnder, fingerprint(expected), name);
      assert.equal(record.notAfter, leaf.notAfter.toISOString(), name);
      assert.deepEqual(record.trusts, roots.map(fingerprint), name);
    }
    // A root that is not in the bundle: nothing verifies, and the record says so.
    const { issuance } = await answer(selfA, [], [selfB]);
    await recording(issuance).issue({} as IssueRequest);
    assert.equal(recorder.last().signedUnder, 'unknown');
  });
});
