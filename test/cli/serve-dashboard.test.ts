// `meshca serve --ui on|off` and `--ui-admin-token-file`: wrong values are exit 2 naming them; with a
// token the real server's /ui wants it from every client; --ui off (or MESHCA_UI=off) leaves no /ui.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runMeshca, startServe } from '../support/meshca-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshca-serve-ui-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('meshca serve --ui', () => {
  test('bad values are exit 2, every problem named', async () => {
    const short = join(dir, 'short-token');
    await writeFile(short, 'abc\n');
    const r = await runMeshca([
      'serve',
      '--data-dir',
      join(dir, 'bad'),
      '--ui',
      'maybe',
      '--ui-admin-token-file',
      short,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--ui "maybe": use on or off/);
    const missing = await runMeshca([
      'serve',
      '--data-dir',
      join(dir, 'bad'),
      '--ui-admin-token-file',
      join(dir, 'nope'),
    ]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /--ui-admin-token-file .*nope cannot be read \(ENOENT\); give a file that holds/,
    );
    const tooShort = await runMeshca([
      'serve',
      '--data-dir',
      join(dir, 'bad'),
      '--ui-admin-token-file',
      short,
    ]);
    assert.match(
      tooShort.stderr,
      /the token must be 16 to 4096 characters without spaces; make one with "openssl rand -hex 32/,
    );
    const off = await runMeshca([
      'serve',
      '--data-dir',
      join(dir, 'bad'),
      '--monitoring',
      'off',
      '--ui-admin-token-file',
      short,
    ]);
    assert.match(off.stderr, /--ui-admin-token-file applies to the dashboard, which is off/);
  });

  test('with an admin token, /ui wants it even from loopback', async () => {
    const tokenFile = join(dir, 'token');
    const token = 'f'.repeat(40);
    await writeFile(tokenFile, `${token}\n`);
    const ca = await startServe(['--data-dir', join(dir, 'token-ca'), '--ui-admin-token-file', tokenFile]);
    try {
      const url = `http://127.0.0.1:${ca.monitoringPort}/ui`;
      assert.equal((await fetch(url)).status, 401);
      const page = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<section id="hierarchy">/);
      assert.ok(!ca.stderr().includes(token), 'the token is never logged');
    } finally {
      await ca.stop();
    }
  });

  test('MESHCA_UI=off: no /ui, and the 404 does not offer it', async () => {
    const ca = await startServe(['--data-dir', join(dir, 'off-ca')], { env: { MESHCA_UI: 'off' } });
    try {
      const r = await fetch(`http://127.0.0.1:${ca.monitoringPort}/ui`);
      assert.equal(r.status, 404);
      assert.equal(await r.text(), 'not found: try /metrics, /healthz or /readyz\n');
    } finally {
      await ca.stop();
    }
  });
});
