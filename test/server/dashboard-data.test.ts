// What the dashboard shows from a real CA server in process: in RA mode each signer with the roots
// meshConfig.caCertificates lists for it and its issuances per minute; during a staged root change,
// the phase, both roots and the identity still pending. Read over HTTP from the monitoring port.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readInServiceRecord } from '../../src/ca/rotation/in-service-record.js';
import { readIssuanceRecords } from '../../src/ca/rotation/issuance-record-files.js';
import { prepareRotation } from '../../src/ca/rotation/prepare-rotation.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { writeTaskRegistrationAuthority } from '../mesh/mesh-fixtures.js';
import { makePluggedBundle, startFixtureServer, workloadCsr } from '../support/ca-server-fixture.js';
import { waitFor } from '../support/wait-for.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const tempDir = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
const page = async (port: number | undefined, query = '') => {
  const r = await fetch(`http://127.0.0.1:${port}/ui${query}`);
  assert.equal(r.status, 200);
  return r.text();
};

test('RA mode: each signer, its roots and its issuances', async () => {
  const dataDir = await tempDir('meshca-ui-ra-');
  const { roots, config } = await writeTaskRegistrationAuthority(dataDir);
  const ca = await startFixtureServer({
    dataDir,
    mesh: { path: config, initial: await loadMeshConfig(config, { dataDir }), dataDir },
    issuanceLog: { dir: join(dataDir, 'log') },
    dashboard: { adminToken: null },
  });
  try {
    const client = ca.client({ rootsPem: roots['istio-system'] });
    for (const ns of ['foo', 'foo', 'bar']) {
      const { csrPem } = await workloadCsr(ns, 'sleep');
      await client.createCertificate({ csrPem, token: await ca.token(ns, 'sleep') });
    }
    const html = await page(ca.server.monitoringPort);
    for (const signer of ['foo', 'bar', 'istio-system'])
      assert.match(html, new RegExp(`<h3>signer clusterissuers\\.cert-manager\\.io/${signer}</h3>`));
    const fooRoot = new X509Certificate(roots.foo!).fingerprint256;
    const fooSection = html.split('<h3>signer clusterissuers.cert-manager.io/foo</h3>')[1]!.split('<h3>')[0]!;
    assert.ok(
      fooSection.includes(`<code data-fingerprint>${fooRoot}</code>`),
      "foo's root, as openssl prints it",
    );
    assert.match(
      html,
      /<tr data-signer="clusterissuers\.cert-manager\.io\/foo"><td>[^<]+<\/td><td>2<\/td><td>0<\/td>/,
    );
    assert.match(
      html,
      /<tr data-signer="clusterissuers\.cert-manager\.io\/bar"><td>[^<]+<\/td><td>1<\/td><td>0<\/td>/,
    );
    const found = await page(
      ca.server.monitoringPort,
      `?spiffe-id=${encodeURIComponent('spiffe://cluster.local/ns/foo/sa/sleep')}`,
    );
    assert.equal(found.match(/<tr data-serial=/g)?.length, 2);
  } finally {
    await ca.close();
  }
});

test('a staged root change: the phase, both roots, and who is still pending', async () => {
  const dir = await tempDir('meshca-ui-rotation-');
  const a = await makePluggedBundle(join(dir, 'a'));
  const b = await makePluggedBundle(join(dir, 'b'));
  const ca = await startFixtureServer({
    dataDir: join(dir, 'data'),
    ca: { kind: 'plugged', dir: a },
    dashboard: { adminToken: null },
  });
  try {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    await ca.client().createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
    await waitFor('the issuance recorded', async () =>
      Object.keys((await readIssuanceRecords(ca.dataDir)).identities).length === 1 ? true : undefined,
    );
    assert.match(await page(ca.server.monitoringPort), /phase: <strong>none<\/strong>/);
    await prepareRotation({ dataDir: ca.dataDir, newCacerts: b });
    await waitFor(
      'the plan applied',
      async () => (await readInServiceRecord(ca.dataDir))?.appliedRevision === 1,
    );
    const html = await page(ca.server.monitoringPort);
    assert.match(html, /phase: <strong>prepared<\/strong>; confirmed 0, pending 1/);
    assert.match(html, /<tr><td>spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep<\/td>/);
    assert.equal(html.match(/<tr data-role="root">/g)?.length, 2, 'the trust bundle holds both roots');
    assert.match(html, /issuance log is off/);
  } finally {
    await ca.close();
  }
});
