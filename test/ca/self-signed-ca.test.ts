// The embedded default CA: a self-signed root made once in <data-dir>/ca, reused unchanged on every
// start, and agreed on by processes that start at the same moment.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadOrCreateSelfSignedCa } from '../../src/ca/self-signed-ca.js';
import { REPO_DIR } from '../support/cli.js';
import { openssl, opensslOk } from '../support/openssl.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';

describe('loadOrCreateSelfSignedCa', () => {
  let tmp: TempDir;
  before(() => {
    tmp = makeTempDir('meshca-selfsigned-');
  });
  after(() => tmp?.remove());

  it('creates the root once, key 0600, in the layout of Istio’s istio-ca-secret', async () => {
    const dir = join(tmp.path, 'data', 'ca');
    const first = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local', keyType: 'ec-p256' });
    assert.equal(first.created, true);
    assert.deepEqual(readdirSync(dir).sort(), [
      'ca-cert.pem',
      'ca-key.pem',
      'cert-chain.pem',
      'root-cert.pem',
    ]);
    assert.equal(statSync(join(dir, 'ca-key.pem')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'cert-chain.pem'), 'utf8'), '');
    assert.equal(
      readFileSync(join(dir, 'root-cert.pem'), 'utf8'),
      readFileSync(join(dir, 'ca-cert.pem'), 'utf8'),
    );
    // Nothing left behind in the data directory but the CA itself.
    assert.deepEqual(readdirSync(join(tmp.path, 'data')), ['ca']);

    const b = first.bundle;
    assert.equal(b.source, 'self-signed');
    assert.equal(b.issuer.certificate.subject, 'O=cluster.local');
    assert.equal(b.issuer.certificate.selfSigned, true);
    assert.deepEqual(b.chainPems, []);
    assert.equal(b.rootsPem, readFileSync(join(dir, 'root-cert.pem'), 'utf8'));
    const root = join(dir, 'root-cert.pem');
    assert.equal((await openssl(['verify', '-CAfile', root, root])).stdout, `${root}: OK\n`);
    assert.equal(
      await opensslOk(['pkey', '-in', join(dir, 'ca-key.pem'), '-pubout']),
      await opensslOk(['x509', '-in', root, '-noout', '-pubkey']),
    );
    assert.match(
      await opensslOk(['x509', '-in', root, '-noout', '-text']),
      /Basic Constraints: critical\n\s+CA:TRUE\n/,
    );
  });

  it('reuses the root unchanged on the second open', async () => {
    const dir = join(tmp.path, 'reuse', 'ca');
    const first = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local', keyType: 'ec-p256' });
    const files = Object.fromEntries(
      readdirSync(dir).map((f) => [
        f,
        { text: readFileSync(join(dir, f), 'utf8'), mtime: statSync(join(dir, f)).mtimeMs },
      ]),
    );
    // Other settings on the second start do not remake the root either: it is the mesh's trust anchor.
    const second = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'example.org', keyType: 'rsa-2048' });
    assert.equal(second.created, false);
    assert.equal(second.bundle.fingerprint, first.bundle.fingerprint);
    assert.equal(second.bundle.issuer.certificate.subject, 'O=cluster.local');
    for (const f of readdirSync(dir)) {
      assert.equal(readFileSync(join(dir, f), 'utf8'), files[f]!.text, f);
      assert.equal(statSync(join(dir, f)).mtimeMs, files[f]!.mtime, f);
    }
  });

  it('fills an empty leftover directory', async () => {
    const dir = join(tmp.path, 'empty', 'ca');
    mkdirSync(dir, { recursive: true });
    const r = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'td', keyType: 'ec-p256' });
    assert.equal(r.created, true);
    assert.equal(r.bundle.issuer.certificate.subject, 'O=td');
    assert.deepEqual(readdirSync(join(tmp.path, 'empty')), ['ca']);
  });

  it('two processes opening one fresh directory at once end with one identical root', async () => {
    // Each child loads the module first, then waits for "go DIR" so both start the race together.
    const moduleUrl = pathToFileURL(join(REPO_DIR, 'src', 'ca', 'self-signed-ca.ts')).href;
    const script = `
      import { createInterface } from 'node:readline';
      const { loadOrCreateSelfSignedCa } = await import(${JSON.stringify(moduleUrl)});
      process.stdout.write('ready\\n');
      for await (const line of createInterface({ input: process.stdin })) {
        const dir = line.slice(3);
        const r = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local', keyType: 'ec-p256' });
        process.stdout.write(JSON.stringify({ created: r.created, fingerprint: r.bundle.issuer.certificate.fingerprint256 }) + '\\n');
      }
    `;
    const children: ChildProcessWithoutNullStreams[] = [];
    const lines: AsyncIterator<string>[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          cwd: REPO_DIR,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        child.on('exit', (code) => {
          if (code !== 0 && code !== null) console.error(`child ${i} exited ${code}: ${stderr}`);
        });
        children.push(child);
        lines.push(createInterface({ input: child.stdout })[Symbol.asyncIterator]());
      }
      const next = async (i: number): Promise<string> => {
        const r = await lines[i]!.next();
        assert.equal(r.done, false, `child ${i} ended early`);
        return r.value as string;
      };
      for (let i = 0; i < 2; i++) assert.equal(await next(i), 'ready');

      // Several rounds, each on a fresh directory, to give the race a fair chance to happen.
      for (let round = 0; round < 4; round++) {
        const dir = join(tmp.path, `race-${round}`, 'ca');
        for (const child of children) child.stdin.write(`go ${dir}\n`);
        const results = (await Promise.all([next(0), next(1)])).map(
          (l) => JSON.parse(l) as { created: boolean; fingerprint: string },
        );
        assert.equal(
          results.filter((r) => r.created).length,
          1,
          `round ${round}: exactly one process created the root`,
        );
        assert.equal(
          results[0]!.fingerprint,
          results[1]!.fingerprint,
          `round ${round}: both use the same root`,
        );
        const onDisk = await opensslOk([
          'x509',
          '-in',
          join(dir, 'ca-cert.pem'),
          '-noout',
          '-fingerprint',
          '-sha256',
        ]);
        assert.equal(onDisk, `sha256 Fingerprint=${results[0]!.fingerprint}\n`);
        assert.equal(
          await opensslOk(['pkey', '-in', join(dir, 'ca-key.pem'), '-pubout']),
          await opensslOk(['x509', '-in', join(dir, 'ca-cert.pem'), '-noout', '-pubkey']),
        );
        // The loser's temporary directory is gone.
        assert.deepEqual(readdirSync(join(tmp.path, `race-${round}`)), ['ca']);
      }
    } finally {
      for (const child of children) child.stdin.end();
      await Promise.all(
        children.map((c) =>
          c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)),
        ),
      );
    }
  });
});
