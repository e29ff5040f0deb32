// The CA's side of `meshca rotate`, in process: it records each issuance, applies the plan the
// commands write (watched, not restarted), reports what is in service, meters the phase, the pending
// count and every root and intermediate, and shows an intermediate renewal as a plain reload.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { DEFAULT_INTERMEDIATE } from '../../src/ca/offline/profile.js';
import { readInServiceRecord } from '../../src/ca/rotation/in-service-record.js';
import { readIssuanceRecords } from '../../src/ca/rotation/issuance-record-files.js';
import { prepareRotation } from '../../src/ca/rotation/prepare-rotation.js';
import { main } from '../../src/cli/main.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import {
  type CaServerFixture,
  makePluggedBundle,
  startFixtureServer,
  workloadCsr,
} from '../support/ca-server-fixture.js';
import { waitFor } from '../support/wait-for.js';

const SLEEP = 'spiffe://cluster.local/ns/foo/sa/sleep';

describe('rotation in a running CA (data-directory home)', () => {
  let dir: string;
  let a: string;
  let b: string;
  let ca: CaServerFixture;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshca-rotation-server-'));
    a = await makePluggedBundle(join(dir, 'a'));
    b = await makePluggedBundle(join(dir, 'b'));
    ca = await startFixtureServer({ ca: { kind: 'plugged', dir: a } });
  });
  after(async () => {
    await ca?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const issue = async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    return ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
  };
  const metrics = async () => (await fetch(`http://127.0.0.1:${ca.server.monitoringPort}/metrics`)).text();
  const rotateStatus = async () => {
    let out = '';
    const code = await main(['rotate', 'status', '--data-dir', ca.dataDir], {
      out: (t) => {
        out += t;
      },
      err: () => {},
      env: {},
      cwd: dir,
    });
    assert.equal(code, 0);
    return out;
  };

  test('records, applies the plan, meters it, and reports an intermediate renewal as a plain reload', async () => {
    const rootA = ca.server.ca.bundle.roots[0]!;
    const first = await issue();
    await waitFor(
      'the issuance recorded',
      async () => (await readIssuanceRecords(ca.dataDir)).identities[SLEEP],
    );
    const record = (await readIssuanceRecords(ca.dataDir)).identities[SLEEP]!;
    assert.equal(record.signedUnder, rootA.fingerprint256);
    assert.deepEqual(record.trusts, [rootA.fingerprint256]);
    assert.equal(record.notAfter, parseCertificates(first[0]!)[0]!.notAfter.toISOString());
    assert.match(await metrics(), /^meshca_rotation_phase\{phase="none"\} 1$/m);

    const { next } = await prepareRotation({ dataDir: ca.dataDir, newCacerts: b });
    const rootB = next.roots[0]!;
    await waitFor(
      'the plan applied',
      async () => (await readInServiceRecord(ca.dataDir))?.appliedRevision === 1,
    );
    assert.deepEqual(
      ca.server.ca.bundle.roots.map((r) => r.fingerprint256),
      [rootA.fingerprint256, rootB.fingerprint256],
    );
    assert.equal(
      parseCertificates(await readFile(join(ca.dataDir, 'root-cert.pem'), 'utf8')).length,
      2,
      'the published trust bundle holds A and B',
    );
    let text = await metrics();
    assert.match(text, /^meshca_rotation_phase\{phase="prepared"\} 1$/m);
    assert.match(text, /^meshca_rotation_pending_identities 1$/m);
    for (const root of [rootA, rootB])
      assert.match(
        text,
        new RegExp(
          `^meshca_ca_certificate_expiry_timestamp\\{role="root",serial="${root.serialHex}"\\} ${root.notAfter.getTime() / 1000}$`,
          'm',
        ),
      );
    assert.match(
      text,
      /^meshca_ca_certificate_expiry_timestamp\{role="intermediate",serial="[0-9A-F]+"\} \d+$/m,
    );
    assert.ok(ca.logs.some((l) => l.event === 'rotation-phase' && l.phase === 'prepared' && l.pending === 1));
    assert.match(
      await rotateStatus(),
      /^pending: 1\n {2}spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep \(last certificate/m,
    );

    // sleep renews: both roots, still A's intermediate.
    const renewed = await issue();
    assert.equal(parseCertificates(renewed.at(-1)!).length, 2);
    text = await metrics();
    assert.match(text, /^meshca_rotation_pending_identities 0$/m);
    await waitFor('the renewal recorded', async () => /^confirmed: 1$/m.test(await rotateStatus()));

    // A new intermediate under A is a plain hot reload; the rotation stays prepared around it.
    const before = ca.server.ca.bundle.issuer.certificate.serialHex;
    await makeIntermediate({
      rootDir: join(dir, 'a'),
      cluster: 'cluster1',
      profile: DEFAULT_INTERMEDIATE,
      force: true,
    });
    const change = await waitFor('the intermediate renewal reported', async () => {
      const r = await readInServiceRecord(ca.dataDir);
      return r?.lastChange?.kind === 'intermediate' && r.lastChange.previousSerial === before ? r : undefined;
    });
    assert.equal(change.phase, 'prepared');
    assert.equal(change.roots.length, 2);
    assert.match(
      await rotateStatus(),
      /intermediate renewed under the same root \(serial [0-9A-F]+ -> [0-9A-F]+\), a plain reload, no rotation needed/,
    );
  });
});
