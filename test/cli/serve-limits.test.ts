// `meshca serve --limit NAME=VALUE` and MESHCA_LIMITS change the connection limits; a wrong name or
// value is a usage error listing the names.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runMeshca, startServe } from '../support/meshca-process.js';
import { waitFor } from '../support/wait-for.js';

describe('meshca serve --limit', () => {
  test('handshake-timeout=1s drops a connection that never starts TLS (the default waits 10 s)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshca-limits-'));
    const ca = await startServe(['--data-dir', dir, '--limit', 'handshake-timeout=1s']);
    try {
      let closed = false;
      const socket = connect(ca.grpcPort, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('close', () => {
        closed = true;
      });
      await waitFor('the server to drop the silent connection', () => (closed ? true : undefined), 8_000);
    } finally {
      await ca.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('MESHCA_LIMITS is read too, and wrong names or values are exit 2 naming them', async () => {
    const bad = await runMeshca(['serve', '--limit', 'keepalive-time=soon', '--limit', 'frobs=3'], {
      env: { MESHCA_LIMITS: '' },
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit keepalive-time: "soon" is not a duration/);
    assert.match(
      bad.stderr,
      /--limit frobs=3: write NAME=VALUE with NAME one of handshake-timeout, keepalive-time/,
    );
    const env = await runMeshca(['serve'], { env: { MESHCA_LIMITS: 'max-concurrent-streams=0' } });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /MESHCA_LIMITS max-concurrent-streams=0: give a whole number of at least 1/);
  });

  test("Istio's self-signed root variables are checked: a grace percentage outside 0–100 is exit 2", async () => {
    const r = await runMeshca(['serve'], {
      env: { CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE: '150' },
    });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /CITADEL_SELF_SIGNED_ROOT_CERT_GRACE_PERIOD_PERCENTILE "150": give a percentage between 0 and 100/,
    );
  });
});
