// Loading and watching the agent's output directory: readiness, rotation, and half-updated sets.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadWorkloadCredentials } from '../../src/proxy/load-workload-credentials.js';
import {
  type WorkloadCredentials,
  type WorkloadCredentialsWatcher,
  watchWorkloadCredentials,
} from '../../src/proxy/workload-credentials.js';
import {
  createMeshCa,
  issueWorkloadCert,
  type MeshCa,
  type WorkloadCert,
  writeWorkloadFiles,
} from '../support/mesh-certs.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { captureLog, nextChange, SLEEP_ID } from './fixture.js';

async function rejects(dir: string): Promise<{ code: string; message: string }> {
  try {
    await loadWorkloadCredentials(dir);
  } catch (err) {
    return err as { code: string; message: string };
  }
  assert.fail(`loading ${dir} should have failed`);
}

describe('workload credentials', { timeout: 120_000 }, () => {
  let root: TempDir;
  let ca: MeshCa;
  let otherCa: MeshCa;
  let first: WorkloadCert;
  let second: WorkloadCert;
  let n = 0;
  const watchers: WorkloadCredentialsWatcher[] = [];
  const freshDir = async () => {
    const dir = join(root.path, `out-${n++}`);
    await mkdir(dir);
    return dir;
  };

  before(async () => {
    root = makeTempDir('meshca-proxy-creds-');
    ca = await createMeshCa(await freshDir());
    otherCa = await createMeshCa(await freshDir(), { name: 'other' });
    first = await issueWorkloadCert(ca, { spiffeId: SLEEP_ID });
    second = await issueWorkloadCert(ca, { spiffeId: SLEEP_ID });
  });

  after(async () => {
    for (const watcher of watchers) watcher.close();
    root.remove();
  });

  it('loads a consistent set', async () => {
    const dir = await freshDir();
    await writeWorkloadFiles(dir, first);
    const creds = await loadWorkloadCredentials(dir);
    assert.equal(creds.spiffeId, SLEEP_ID);
    assert.equal(creds.trustDomain, 'cluster.local');
    assert.equal(creds.serialHex, first.serialHex);
    assert.equal(creds.certChainPem, first.certChainPem);
    assert.equal(creds.keyPem, first.keyPem);
    assert.equal(creds.rootsPem, ca.rootCertPem);
    assert.ok(creds.notAfter.getTime() > Date.now());
  });

  it('PROXY_CREDENTIALS_MISSING before the agent has written', async () => {
    const dir = await freshDir();
    const err = await rejects(dir);
    assert.equal(err.code, 'PROXY_CREDENTIALS_MISSING');
    assert.match(err.message, /cert-chain\.pem does not exist yet/);
  });

  it('PROXY_CREDENTIALS_INCONSISTENT when the key is not the leaf’s', async () => {
    const dir = await freshDir();
    await writeWorkloadFiles(dir, first);
    await writeWorkloadFiles(dir, second, { only: ['cert-chain.pem'] });
    const err = await rejects(dir);
    assert.equal(err.code, 'PROXY_CREDENTIALS_INCONSISTENT');
    assert.equal(
      err.message,
      `${dir}/key.pem is not the private key of the first certificate in ${dir}/cert-chain.pem; ` +
        'if the agent is rotating the files this clears by itself, otherwise rewrite all three files together',
    );
  });

  it('PROXY_CREDENTIALS_INCONSISTENT when the chain does not reach root-cert.pem', async () => {
    const dir = await freshDir();
    await writeWorkloadFiles(dir, first);
    await writeFile(join(dir, 'root-cert.pem'), otherCa.rootCertPem);
    await writeFile(join(dir, 'cert-chain.pem'), first.leafPem + ca.caCertPem);
    const err = await rejects(dir);
    assert.equal(err.code, 'PROXY_CREDENTIALS_INCONSISTENT');
    assert.match(err.message, /does not chain to any certificate in .*root-cert\.pem/);
  });

  it('PROXY_CREDENTIALS_INVALID for a leaf without a SPIFFE ID, or garbage', async () => {
    const dir = await freshDir();
    const dnsOnly = await issueWorkloadCert(ca, { spiffeId: SLEEP_ID, san: 'DNS:sleep.foo.svc' });
    await writeWorkloadFiles(dir, dnsOnly);
    const err = await rejects(dir);
    assert.equal(err.code, 'PROXY_CREDENTIALS_INVALID');
    assert.match(err.message, /has no spiffe:\/\/ URI SAN \(it has "DNS:sleep\.foo\.svc"\)/);

    await writeFile(join(dir, 'cert-chain.pem'), 'not a certificate\n');
    assert.equal((await rejects(dir)).code, 'PROXY_CREDENTIALS_INVALID');
  });

  it('whenReady resolves once the agent writes the files', async () => {
    const dir = await freshDir();
    const watcher = watchWorkloadCredentials({ dir });
    watchers.push(watcher);
    assert.equal(watcher.current(), undefined);
    const ready = watcher.whenReady();
    await writeWorkloadFiles(dir, first);
    assert.equal((await ready).serialHex, first.serialHex);
    assert.equal(watcher.current()?.serialHex, first.serialHex);
  });

  it('whenReady also works when the directory itself appears later (poll fallback)', async () => {
    const dir = join(root.path, 'not-yet');
    const watcher = watchWorkloadCredentials({ dir, pollIntervalMs: 20 });
    watchers.push(watcher);
    await mkdir(dir);
    await writeWorkloadFiles(dir, first);
    assert.equal((await watcher.whenReady()).serialHex, first.serialHex);
  });

  it('ignores a half-updated set until it is consistent, then reports the new one once', async () => {
    const dir = await freshDir();
    await writeWorkloadFiles(dir, first);
    const log = captureLog();
    const watcher = watchWorkloadCredentials({ dir, log: log.log });
    watchers.push(watcher);
    await watcher.whenReady();
    const changes: WorkloadCredentials[] = [];
    watcher.onChange((creds) => changes.push(creds));

    await writeWorkloadFiles(dir, second, { only: ['cert-chain.pem'] });
    const rejected = await log.waitFor((e) => e['event'] === 'credentials_rejected');
    assert.equal(rejected['code'], 'PROXY_CREDENTIALS_INCONSISTENT');
    assert.equal(watcher.current()?.serialHex, first.serialHex);
    assert.equal(changes.length, 0);

    const changed = nextChange(watcher);
    await writeWorkloadFiles(dir, second, { only: ['key.pem', 'root-cert.pem'] });
    assert.equal((await changed).serialHex, second.serialHex);
    assert.equal(watcher.current()?.serialHex, second.serialHex);
    assert.deepEqual(
      changes.map((c) => c.serialHex),
      [second.serialHex],
    );
    const rotated = await log.waitFor((e) => e['event'] === 'credentials_rotated');
    assert.equal(rotated['serial'], second.serialHex);
    assert.equal(JSON.stringify(log.events).includes('PRIVATE KEY'), false, 'keys never reach the log');
  });

  it('close() rejects a pending whenReady with PROXY_CREDENTIALS_WATCH_CLOSED', async () => {
    const watcher = watchWorkloadCredentials({ dir: await freshDir() });
    const ready = watcher.whenReady();
    watcher.close();
    await assert.rejects(ready, { code: 'PROXY_CREDENTIALS_WATCH_CLOSED' });
  });
});
