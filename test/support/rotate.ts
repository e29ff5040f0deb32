// `meshca rotate` steps the rotation tests of both homes share.
import assert from 'node:assert/strict';
import type { MeshcaResult } from './meshca-process.js';
import { waitFor } from './wait-for.js';

/** `meshca rotate finish`, once `status` no longer names a valid certificate under the old root. */
export async function finishOnceOldRootUnused(
  rotate: (...args: string[]) => Promise<MeshcaResult>,
  timeoutMs: number,
): Promise<MeshcaResult> {
  await waitFor(
    'every certificate under the old root to expire',
    async () => !/under the old root are valid until/.test((await rotate('status')).stdout),
    timeoutMs,
  );
  const finished = await rotate('finish');
  assert.equal(finished.code, 0, finished.stderr);
  return finished;
}
