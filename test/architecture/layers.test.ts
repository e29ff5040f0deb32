// The layering of src/, enforced: a folder imports only folders on a lower floor (and files of its
// own), so an upward import or one between siblings fails npm test. The floors, lowest first, are
// the ones docs/architecture.md describes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** Each top-level unit of src/ and its floor; a unit may import only units on lower floors. */
const FLOORS: Record<string, number> = {
  'errors.ts': 0,
  'error-codes.ts': 0,
  'log.ts': 0,
  lib: 1,
  pki: 2,
  api: 2,
  http: 2,
  ca: 3,
  identity: 4,
  mesh: 4,
  issuance: 5,
  server: 6,
  agent: 6,
  proxy: 6,
  demo: 7,
  cli: 8,
  'index.ts': 9,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The top-level unit of a path inside src/: its first folder, or the file itself. */
const unitOf = (path: string) => relative(SRC, path).split('/')[0]!;

/** Every relative import (static, re-export, dynamic) of every file in src/: [from unit, to unit, file]. */
function imports(): [string, string, string][] {
  const found: [string, string, string][] = [];
  for (const file of files(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm)) {
      const target = resolve(dirname(file), m[1]!);
      if (!target.startsWith(SRC)) continue;
      found.push([unitOf(file), unitOf(target), relative(SRC, file)]);
    }
  }
  return found;
}

describe('the layers of src/', () => {
  test('every top-level folder and file of src/ has a floor', () => {
    for (const name of readdirSync(SRC)) assert.ok(name in FLOORS, `src/${name} has no floor in FLOORS`);
  });

  test('no import goes up a floor or across to a sibling on the same floor', () => {
    const wrong = imports()
      .filter(([from, to]) => from !== to && FLOORS[to]! >= FLOORS[from]!)
      .map(
        ([from, to, file]) => `${file} (${from}, floor ${FLOORS[from]}) imports ${to} (floor ${FLOORS[to]})`,
      );
    assert.deepEqual(wrong, []);
  });

  test('the check sees imports at all (it would pass vacuously otherwise)', () => {
    const all = imports();
    assert.ok(all.length > 300, `only ${all.length} imports found`);
    assert.ok(all.some(([from, to]) => from === 'cli' && to === 'server'));
  });
});
