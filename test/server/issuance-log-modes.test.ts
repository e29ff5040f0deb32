// Every certificate the server hands out is in the issuance log, whatever issued it: CA mode with a
// token or a client certificate, RA mode through each named signer, and the server's own serving
// certificate from the PILOT_CERT_PROVIDER signer. Real gRPC+TLS, in process.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readLogEntries, verifyIssuanceLog } from '../../src/ca/issuance-log/verify-issuance-log.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { writeTaskRegistrationAuthority } from '../mesh/mesh-fixtures.js';
import { startFixtureServer, workloadCsr } from '../support/ca-server-fixture.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');

test('CA mode: token callers, a client-certificate renewal and the serving certificate are logged', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'meshca-log-ca-'));
  dirs.push(dataDir);
  const logDir = join(dataDir, 'log');
  const ca = await startFixtureServer({ dataDir, issuanceLog: { dir: logDir } });
  const first = await workloadCsr('foo', 'sleep');
  const chain = await ca
    .client()
    .createCertificate({ csrPem: first.csrPem, token: await ca.token('foo', 'sleep') });
  const keyPem = first.key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const renewing = ca.client({ clientCertificate: { certChainPem: chain.join(''), keyPem } });
  const renewed = await renewing.createCertificate({ csrPem: (await workloadCsr('foo', 'sleep')).csrPem });
  await ca.close();

  const { entries } = await readLogEntries(logDir);
  assert.deepEqual(
    entries.map((e) =>
      e.kind === 'break' ? e.kind : [e.kind, e.signer, e.requester.via, e.requester.subject],
    ),
    [
      ['serving', 'meshca/local', 'self', 'serving-certificate'],
      ['workload', 'meshca/local', 'token', 'system:serviceaccount:foo:sleep'],
      ['workload', 'meshca/local', 'certificate', 'spiffe://cluster.local/ns/foo/sa/sleep'],
    ],
  );
  assert.deepEqual(
    entries.slice(1).map((e) => e.kind !== 'break' && e.serial),
    [serialOf(chain[0]!), serialOf(renewed[0]!)],
  );
  const report = await verifyIssuanceLog(logDir);
  assert.deepEqual(report.problems, []);
  assert.equal(report.checkpoints, 1, 'close signs a checkpoint');
});

test('RA mode: each signer, and the serving certificate from PILOT_CERT_PROVIDER, are logged', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'meshca-log-ra-'));
  dirs.push(dataDir);
  const logDir = join(dataDir, 'log');
  const { roots, config } = await writeTaskRegistrationAuthority(dataDir);
  const ca = await startFixtureServer({
    dataDir,
    mesh: { path: config, initial: await loadMeshConfig(config, { dataDir }), dataDir },
    issuanceLog: { dir: logDir },
  });
  const client = ca.client({ rootsPem: roots['istio-system'] });
  const issued: Record<string, string> = {};
  for (const namespace of ['foo', 'bar', 'default']) {
    const { csrPem } = await workloadCsr(namespace, 'sleep');
    issued[namespace] = (
      await client.createCertificate({ csrPem, token: await ca.token(namespace, 'sleep') })
    )[0]!;
  }
  await ca.close();
  const { entries } = await readLogEntries(logDir);
  const bySerial = new Map(entries.flatMap((e) => (e.kind === 'break' ? [] : [[e.serial, e] as const])));
  assert.equal(bySerial.get(serialOf(issued.foo!))?.signer, 'clusterissuers.cert-manager.io/foo');
  assert.equal(bySerial.get(serialOf(issued.bar!))?.signer, 'clusterissuers.cert-manager.io/bar');
  assert.equal(
    bySerial.get(serialOf(issued.default!))?.signer,
    'clusterissuers.cert-manager.io/istio-system',
  );
  const serving = entries[0]!;
  assert.equal(serving.kind, 'serving');
  assert.equal(serving.kind === 'serving' && serving.signer, 'clusterissuers.cert-manager.io/istio-system');
  assert.deepEqual((await verifyIssuanceLog(logDir)).problems, []);
});
