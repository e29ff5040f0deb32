// At start, `meshca serve` warns about a data directory others can look into and removes what an
// interrupted write left behind, saying so in its log.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startServe } from '../support/meshca-process.js';

describe('meshca serve: the data directory at start', () => {
  test("a loose ca/ directory is warned about with the fix; a dead writer's temp directory is removed", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-hygiene-'));
    const data = join(dir, 'data');
    try {
      const first = await startServe(['--data-dir', data]);
      await first.stop();
      await chmod(join(data, 'ca'), 0o755);
      // What a process killed while writing the self-signed CA leaves: its pid is long gone.
      const leftover = join(data, '.ca.999999-0a1b2c3d4e5f.tmp');
      await mkdir(leftover);
      await writeFile(join(leftover, 'ca-key.pem'), 'not really a key', { mode: 0o600 });
      const again = await startServe(['--data-dir', data]);
      try {
        const loose = await again.waitForLog((l) => l.event === 'loose-permissions');
        assert.match(String(loose.msg), /mode 0755/);
        assert.match(String(loose.fix ?? loose.msg), /chmod 700/);
        const removed = await again.waitForLog((l) => l.event === 'leftover-removed');
        assert.equal(removed.path, leftover);
        assert.equal(existsSync(leftover), false);
      } finally {
        await again.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
