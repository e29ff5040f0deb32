// The one way tests check an expected failure: a MeshcaError with this code, and optionally this kind
// and message (exact text, or a pattern).
import assert from 'node:assert/strict';
import { isMeshcaError } from '../../src/errors.js';

/** A predicate for assert.throws / assert.rejects. */
export function meshcaErrorWith(code: string, kind?: string, message?: string | RegExp) {
  return (err: unknown): true => {
    assert.ok(isMeshcaError(err), `expected a MeshcaError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (kind !== undefined) assert.equal(err.kind, kind);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

/** `fn()` throws a MeshcaError with `code` (and `kind`, `message` when given). */
export function assertThrowsCode(
  fn: () => unknown,
  code: string,
  kind?: string,
  message?: string | RegExp,
): void {
  assert.throws(fn, meshcaErrorWith(code, kind, message));
}

/** `fn()` rejects with a MeshcaError with `code` (and `kind`, `message` when given). */
export async function assertRejectsCode(
  fn: () => Promise<unknown>,
  code: string,
  kind?: string,
  message?: string | RegExp,
): Promise<void> {
  await assert.rejects(fn, meshcaErrorWith(code, kind, message));
}
