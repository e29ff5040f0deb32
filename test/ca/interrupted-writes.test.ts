// What an interrupted atomic write leaves behind (a `.ca.*.tmp` directory that may hold a CA key, a
// `.<file>.*.tmp` file) is removed at the next start: only meshca's own temp names, only in its
// own directories, and never a write another process still has in flight.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertificateAuthority } from '../../src/ca/certificate-authority.js';
import { prepareDataDirectory } from '../../src/ca/prepare-data-directory.js';
import { removeInterruptedWrites } from '../../src/ca/remove-interrupted-writes.js';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import {
  ISSUER_JWKS_FILE,
  ISSUER_KEY_FILE,
  loadOrCreateTokenIssuer,
} from '../../src/identity/token-issuer.js';
import { LEFTOVER_AGE_MS, releaseTemporaryName, temporaryName } from '../../src/lib/temporary-name.js';
import { createLogger } from '../../src/log.js';
import { openssl } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

const FAKE_KEY = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n';
const HEX = 'a1b2c3d4e5f6';

/** A pid no process has now: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid > 0);
  return r.pid;
}

/** A leftover `.ca` temp directory, as an interrupted self-signed creation leaves it, key inside. */
function leftoverCaDir(parent: string, name: string, ageMs = 0): string {
  const path = join(parent, name);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'ca-key.pem'), FAKE_KEY, { mode: 0o600 });
  if (ageMs > 0) {
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(path, t, t);
  }
  return path;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

describe('leftovers of interrupted writes', () => {
  let tmp: TempDir;
  let live: ChildProcess;
  before(() => {
    tmp = makeTempDir('meshca-leftovers-');
    live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  });
  after(() => {
    live?.kill('SIGKILL');
    tmp?.remove();
  });

  it('temp names carry the writer’s pid, so a later start can tell a crash from a write in flight', () => {
    const name = temporaryName('ca-key.pem');
    assert.match(name, new RegExp(`^\\.ca-key\\.pem\\.${process.pid}-[0-9a-f]{12}\\.tmp$`));
    assert.notEqual(temporaryName('ca-key.pem'), name);
    assert.equal(LEFTOVER_AGE_MS, 10 * 60 * 1000);
  });

  it('a fresh start removes a crashed .ca temp directory (key inside) and creates the CA', async () => {
    const data = tmp.file('fresh');
    const leftover = leftoverCaDir(data, `.ca.${deadPid()}-${HEX}.tmp`);
    const r = await loadOrCreateSelfSignedCa({
      dir: join(data, 'ca'),
      trustDomain: 'cluster.local',
      keyType: 'ec-p256',
    });
    assert.equal(r.created, true);
    assert.deepEqual(r.removed, [leftover]);
    assert.deepEqual(readdirSync(data), ['ca']);
    const root = join(data, 'ca', 'root-cert.pem');
    assert.equal((await openssl(['verify', '-CAfile', root, root])).stdout, `${root}: OK\n`);
  });

  it('a restart with a CA in place removes leftovers beside it and inside it, and keeps the root', async () => {
    const data = tmp.file('restart');
    const dir = join(data, 'ca');
    const first = await CertificateAuthority.open({
      kind: 'self-signed',
      dir,
      trustDomain: 'cluster.local',
      keyType: 'ec-p256',
    });
    assert.deepEqual(first.removedLeftovers, []);
    const pid = deadPid();
    const besides = [
      leftoverCaDir(data, `.ca.${pid}-${HEX}.tmp`),
      // The name an older meshca used, without a pid: removed once it is old enough to be no write.
      leftoverCaDir(data, `.ca-${HEX}.tmp`, 2 * LEFTOVER_AGE_MS),
    ];
    const inside = join(dir, `.ca-key.pem.${pid}-${HEX}.tmp`);
    writeFileSync(inside, FAKE_KEY, { mode: 0o600 });
    // Not meshca's: kept.
    writeFileSync(join(data, 'notes.tmp'), 'mine');
    writeFileSync(join(dir, '.ca-key.pem.backup.tmp'), 'mine');
    mkdirSync(join(data, '.cache-123-a1b2c3d4e5f6.tmp'));

    const again = await CertificateAuthority.open({
      kind: 'self-signed',
      dir,
      trustDomain: 'cluster.local',
      keyType: 'ec-p256',
    });
    assert.equal(again.created, false);
    assert.equal(again.bundle.fingerprint, first.bundle.fingerprint);
    assert.deepEqual([...again.removedLeftovers].sort(), [...besides, inside].sort());
    assert.deepEqual(readdirSync(data).sort(), ['.cache-123-a1b2c3d4e5f6.tmp', 'ca', 'notes.tmp']);
    assert.deepEqual(readdirSync(dir).sort(), [
      '.ca-key.pem.backup.tmp',
      'ca-cert.pem',
      'ca-key.pem',
      'cert-chain.pem',
      'root-cert.pem',
    ]);
  });

  it('keeps what may still be in flight: a live writer’s, our own, and a recent one without a pid', async () => {
    const dir = tmp.file('inflight');
    const ours = temporaryName('ca');
    const kept = [
      leftoverCaDir(dir, `.ca.${live.pid}-${HEX}.tmp`),
      leftoverCaDir(dir, ours),
      leftoverCaDir(dir, `.ca-${HEX}.tmp`),
    ];
    const removed = [
      // Too old to be in flight, whoever lives under that pid now.
      leftoverCaDir(dir, `.ca.${live.pid}-0000000000aa.tmp`, 2 * LEFTOVER_AGE_MS),
      // Our pid, but not our write: a predecessor's that had the same pid (pid 1 in a container).
      leftoverCaDir(dir, `.ca.${process.pid}-${HEX}.tmp`),
    ];
    assert.deepEqual((await removeInterruptedWrites(dir, { dirs: ['ca'] })).sort(), removed.sort());
    for (const k of kept) assert.ok(existsSync(k), k);
    // Once our write is over, what it left is a leftover too.
    releaseTemporaryName(ours);
    assert.deepEqual(await removeInterruptedWrites(dir, { dirs: ['ca'] }), [join(dir, ours)]);
  });

  it('removes only the kind it expects, and never follows a symlink', async () => {
    const dir = tmp.file('kinds');
    const target = tmp.file('kinds-target');
    mkdirSync(target);
    writeFileSync(join(target, 'precious'), 'x');
    mkdirSync(dir);
    const pid = deadPid();
    symlinkSync(target, join(dir, `.ca.${pid}-${HEX}.tmp`));
    mkdirSync(join(dir, `.key.pem.${pid}-${HEX}.tmp`)); // a directory where a file would be
    writeFileSync(join(dir, `.ca.${pid}-0000000000bb.tmp`), 'a file where a directory would be');
    assert.deepEqual(await removeInterruptedWrites(dir, { dirs: ['ca'], files: ['key.pem'] }), []);
    assert.equal(readdirSync(dir).length, 3);
    assert.ok(existsSync(join(target, 'precious')));
    assert.deepEqual(await removeInterruptedWrites(tmp.file('does-not-exist'), { dirs: ['ca'] }), []);
  });

  it('prepareDataDirectory removes the issuer’s and the CA’s leftovers and logs each one', async () => {
    const data = tmp.file('prepare');
    const issuerDir = join(data, 'issuer');
    await loadOrCreateTokenIssuer(issuerDir);
    const pid = deadPid();
    const removedExpected = [
      join(issuerDir, `.${ISSUER_KEY_FILE}.${pid}-${HEX}.tmp`),
      join(issuerDir, `.${ISSUER_JWKS_FILE}.${pid}-${HEX}.tmp`),
      leftoverCaDir(data, `.ca.${pid}-${HEX}.tmp`),
    ];
    writeFileSync(removedExpected[0]!, FAKE_KEY, { mode: 0o600 });
    writeFileSync(removedExpected[1]!, '{}');
    const { log, lines } = capture();
    const ca = { kind: 'self-signed', dir: join(data, 'ca'), trustDomain: 'td', keyType: 'ec-p256' } as const;
    const result = await prepareDataDirectory({ dataDir: data, ca, log });
    assert.deepEqual([...result.removed].sort(), [...removedExpected].sort());
    assert.deepEqual(readdirSync(data), ['issuer']);
    assert.deepEqual(readdirSync(issuerDir).sort(), [ISSUER_JWKS_FILE, ISSUER_KEY_FILE]);
    const logged = lines.filter((l) => l.event === 'leftover-removed');
    assert.deepEqual(
      logged.map((l) => [l.level, l.msg, l.path]).sort(),
      removedExpected.map((p) => ['info', `removed ${p}, left behind by an interrupted write`, p]).sort(),
    );
    // The CA still starts on that data directory.
    const opened = await CertificateAuthority.open(ca);
    assert.equal(opened.created, true);
  });

  it('prepareDataDirectory does nothing, and says nothing, on a missing data directory', async () => {
    const { log, lines } = capture();
    const ca = {
      kind: 'self-signed',
      dir: tmp.file('none/ca'),
      trustDomain: 'td',
      keyType: 'ec-p256',
    } as const;
    assert.deepEqual(await prepareDataDirectory({ dataDir: tmp.file('none'), ca, log }), {
      removed: [],
      loose: [],
    });
    assert.deepEqual(lines, []);
    assert.equal(existsSync(tmp.file('none')), false);
  });

  it('prepareDataDirectory warns about a data, key directory or key file others can read', async () => {
    const data = tmp.file('loose');
    const caDir = join(data, 'ca');
    const issuerDir = join(data, 'issuer');
    const ca = { kind: 'self-signed', dir: caDir, trustDomain: 'td', keyType: 'ec-p256' } as const;
    await CertificateAuthority.open(ca);
    await loadOrCreateTokenIssuer(issuerDir);
    const quiet = capture();
    assert.deepEqual((await prepareDataDirectory({ dataDir: data, ca, log: quiet.log })).loose, []);
    assert.deepEqual(quiet.lines, [], 'modes as meshca makes them: no warning');

    chmodSync(data, 0o755);
    chmodSync(caDir, 0o750);
    chmodSync(join(caDir, 'ca-key.pem'), 0o644);
    chmodSync(join(issuerDir, ISSUER_KEY_FILE), 0o640);
    chmodSync(join(caDir, 'ca-cert.pem'), 0o644); // public: fine
    const { log, lines } = capture();
    const { loose } = await prepareDataDirectory({ dataDir: data, ca, log });
    const dirMsg = (p: string, m: string) =>
      `${p} is mode ${m}: other users can look into this directory of private keys; run "chmod 700 ${p}"`;
    const keyMsg = (p: string, m: string) =>
      `${p} is mode ${m}: other users can read this private key; run "chmod 600 ${p}"`;
    const expected = [
      { path: data, mode: '0755', fix: `chmod 700 ${data}`, msg: dirMsg(data, '0755') },
      { path: caDir, mode: '0750', fix: `chmod 700 ${caDir}`, msg: dirMsg(caDir, '0750') },
      {
        path: join(caDir, 'ca-key.pem'),
        mode: '0644',
        fix: `chmod 600 ${join(caDir, 'ca-key.pem')}`,
        msg: keyMsg(join(caDir, 'ca-key.pem'), '0644'),
      },
      {
        path: join(issuerDir, ISSUER_KEY_FILE),
        mode: '0640',
        fix: `chmod 600 ${join(issuerDir, ISSUER_KEY_FILE)}`,
        msg: keyMsg(join(issuerDir, ISSUER_KEY_FILE), '0640'),
      },
    ];
    assert.deepEqual(
      loose.map((l) => l.path),
      expected.map((e) => e.path),
    );
    assert.deepEqual(
      lines.map((l) => ({
        level: l.level,
        event: l.event,
        path: l.path,
        mode: l.mode,
        fix: l.fix,
        msg: l.msg,
      })),
      expected.map((e) => ({ level: 'warn', event: 'loose-permissions', ...e })),
    );
  });

  it('prepareDataDirectory checks a plugged-in CA directory and its key too', async () => {
    const data = tmp.file('plugged');
    const cacerts = tmp.file('plugged-cacerts');
    mkdirSync(data, { mode: 0o700 });
    mkdirSync(cacerts, { mode: 0o755 });
    chmodSync(cacerts, 0o755);
    writeFileSync(join(cacerts, 'tls.key'), FAKE_KEY, { mode: 0o644 });
    chmodSync(join(cacerts, 'tls.key'), 0o644);
    const { log } = capture();
    const { loose } = await prepareDataDirectory({
      dataDir: data,
      ca: { kind: 'plugged', dir: cacerts },
      log,
    });
    assert.deepEqual(
      loose.map((l) => [l.path, l.mode]),
      [
        [cacerts, '0755'],
        [join(cacerts, 'tls.key'), '0644'],
      ],
    );
  });
});
