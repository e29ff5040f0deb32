// The session pool's bounds: never more sessions than its size, a bounded queue of waiters beyond
// that, a clear refusal past it, and sessions reused in turn.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createSessionPool } from '../../../src/ca/pkcs11/session-pool.js';
import { isMeshcaError } from '../../../src/errors.js';

it('opens at most `size` sessions, queues `maxWaiting` callers and refuses the next', async () => {
  let opened = 0;
  const closed: number[] = [];
  const pool = createSessionPool({
    open: () => ++opened,
    close: (s: number) => closed.push(s),
    size: 2,
    maxWaiting: 1,
    what: 'pkcs11:object=test',
  });
  const gates: Array<() => void> = [];
  const used: number[] = [];
  const hold = () =>
    pool.use(
      (session) =>
        new Promise<void>((resolve) => {
          used.push(session);
          gates.push(resolve);
        }),
    );
  const running = [hold(), hold(), hold()];
  await assert.rejects(hold(), (err) => {
    assert.ok(isMeshcaError(err));
    assert.equal(err.code, 'PKCS11_TOKEN_UNAVAILABLE');
    assert.equal(err.kind, 'unavailable');
    assert.equal(
      err.message,
      'pkcs11:object=test: the token is busy (2 signatures running, 1 waiting); retry shortly',
    );
    return true;
  });
  assert.equal(opened, 2);
  gates.shift()!(); // the first session goes to the waiter
  await running[0];
  while (gates.length < 2) await new Promise((resolve) => setImmediate(resolve));
  for (const open of gates.splice(0)) open();
  await Promise.all(running);
  assert.deepEqual(used, [1, 2, 1]);
  await pool.drain();
  pool.closeAll();
  assert.deepEqual(closed.sort(), [1, 2]);
  await assert.rejects(hold(), /the token's sessions are closed/);
});
