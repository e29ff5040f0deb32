// docs/errors.md is generated from the error table (src/error-codes.ts): it must be what the
// generator would write now, so a code added, removed or reworded shows up in the docs too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_DOCS_COMMAND, ERROR_DOCS_FILE, renderErrorDocs } from '../../scripts/gen-error-docs.js';
import { ERROR_CODES } from '../../src/error-codes.js';

test('docs/errors.md is current with src/error-codes.ts', () => {
  const expected = renderErrorDocs();
  let actual: string | undefined;
  try {
    actual = readFileSync(ERROR_DOCS_FILE, 'utf8');
  } catch {
    assert.fail(`docs/errors.md is missing; run "${ERROR_DOCS_COMMAND}" and commit it`);
  }
  assert.ok(
    actual === expected,
    `docs/errors.md is not current with src/error-codes.ts; run "${ERROR_DOCS_COMMAND}" and commit it`,
  );
});

test('docs/errors.md lists every code once, with its kind', () => {
  const rows = renderErrorDocs()
    .split('\n')
    .filter((line) => /^\| `[A-Z]/.test(line))
    .map((line) => line.split(' | '));
  const codes = rows.map((r) => r[0]!.replace(/^\| `|`$/g, ''));
  assert.deepEqual(codes, Object.keys(ERROR_CODES).sort());
  for (const [cell, kind] of rows) {
    const code = cell!.replace(/^\| `|`$/g, '') as keyof typeof ERROR_CODES;
    assert.equal(kind, ERROR_CODES[code].kind, code);
  }
});
