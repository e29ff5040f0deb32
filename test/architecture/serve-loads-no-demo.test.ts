// `meshca serve` loads no demo code: the built CLI runs with a module hook that records every module
// it loads (test/support/record-loaded-modules.mjs), and none of them is the demo's or the peers
// harness's. `meshca sample sleep` shows that the hook does see demo code when a command loads it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runMeshca, startServe } from '../support/meshca-process.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RECORDER = new URL('../support/record-loaded-modules.mjs', import.meta.url).href;
/** Where demo code is, in the source tree and in the build. */
const DEMO_CODE = ['demo', 'dist/demo', 'peers/harness', 'dist/peers'].map(
  (dir) => `${pathToFileURL(join(REPO, dir)).href}/`,
);

const dir = mkdtempSync(join(tmpdir(), 'meshca-loaded-modules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The environment that makes a meshca process write every module URL it loads into `logFile`. */
function recording(logFile: string): Record<string, string> {
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${RECORDER}`.trim(),
    MESHCA_MODULE_LOG: logFile,
  };
}

function loaded(logFile: string): string[] {
  return readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
}

const isDemoCode = (url: string) => DEMO_CODE.some((prefix) => url.startsWith(prefix));
const repoRelative = (url: string) => fileURLToPath(url).slice(REPO.length);

describe('the modules a meshca command loads', () => {
  test('meshca serve loads no module of demo/ or peers/harness/', async () => {
    const logFile = join(dir, 'serve.log');
    const server = await startServe(['--data-dir', join(dir, 'data')], { env: recording(logFile) });
    await server.stop('SIGTERM');
    const modules = loaded(logFile);
    assert.ok(
      modules.some((url) => url.endsWith('/dist/src/server/ca-server.js')),
      `the recorder saw the server load (${modules.length} modules)`,
    );
    assert.deepEqual(modules.filter(isDemoCode).map(repoRelative), []);
  });

  test('meshca sample sleep loads the sample from demo/ (the recorder sees demo code when it loads)', async () => {
    const httpServer = createServer((_req, res) => res.end('ok'));
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    const { port } = httpServer.address() as AddressInfo;
    const logFile = join(dir, 'sample.log');
    try {
      const run = await runMeshca(['sample', 'sleep', '--url', `http://127.0.0.1:${port}/`], {
        env: recording(logFile),
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'HTTP 200\nok');
    } finally {
      httpServer.close();
    }
    assert.deepEqual(loaded(logFile).filter(isDemoCode).map(repoRelative), ['dist/demo/samples/sleep.js']);
  });
});
