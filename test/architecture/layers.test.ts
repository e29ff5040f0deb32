// The layering of src/, enforced: a folder imports only folders on a lower floor (and files of its
// own), so an upward import or one between siblings fails npm test. The floors, lowest first, are
// the ones docs/architecture.md describes. Outside src/, demo/ and peers/harness/ use the product
// only through its public entry, and src/ reaches demo/ only lazily, from the commands that run it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(REPO, 'src');
const DEMO = join(REPO, 'demo');
const HARNESS = join(REPO, 'peers', 'harness');
/** The public entry as imports name it (`.js`, the compiled name, as every relative import here). */
const PUBLIC_ENTRY = join(SRC, 'index.js');
/** The commands that run demo code, and so the only files of src/ that load it (with import()). */
const DEMO_LOADERS = ['src/cli/demo.ts', 'src/cli/sample.ts'];

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
  // The Kubernetes home: above issuance, so its CSR-API signer can implement issuance's Signer.
  kubernetes: 6,
  server: 7,
  agent: 7,
  proxy: 7,
  cli: 8,
  'index.ts': 9,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The folders of src/ (the top-level files are not folders). */
const FOLDERS = new Set(Object.keys(FLOORS).filter((name) => !name.endsWith('.ts')));

/** The top-level unit of a path inside src/: its first folder, or the file itself. */
const unitOf = (path: string) => relative(SRC, path).split('/')[0]!;

const inside = (path: string, dir: string) => path.startsWith(dir + sep);

interface Import {
  file: string;
  /** The imported path, resolved as written (`…/index.js` for src/index.ts). */
  target: string;
  dynamic: boolean;
}

/** Every relative import (static, re-export, dynamic) of every file below `dir`. */
function relativeImports(dir: string): Import[] {
  const found: Import[] = [];
  for (const file of files(dir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|(\bimport\s*\(\s*)|^import\s+)'(\.{1,2}\/[^']+)'/gm)) {
      found.push({ file, target: resolve(dirname(file), m[2]!), dynamic: m[1] !== undefined });
    }
  }
  return found;
}

/** Every import of every file in src/ that stays in src/: [from unit, to unit, file]. */
function imports(): [string, string, string][] {
  return relativeImports(SRC)
    .filter(({ target }) => inside(target, SRC))
    .map(({ file, target }) => [unitOf(file), unitOf(target), relative(SRC, file)]);
}

const shown = ({ file, target, dynamic }: Import) =>
  `${relative(REPO, file)} ${dynamic ? 'loads' : 'imports'} ${relative(REPO, target)}`;

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

  test("docs/architecture.md's list of what each folder imports is the import graph", () => {
    const doc = readFileSync(join(REPO, 'docs', 'architecture.md'), 'utf8');
    const documented = new Map<string, string>();
    for (const m of doc.matchAll(/^- `(\w+)` → ([a-z, ]+?)(?: \(|$)/gm)) documented.set(m[1]!, m[2]!.trim());
    const actual = new Map<string, Set<string>>();
    for (const [from, to] of imports()) {
      if (from === to || !FOLDERS.has(from) || !FOLDERS.has(to)) continue;
      actual.set(from, (actual.get(from) ?? new Set()).add(to));
    }
    const asText = (m: Map<string, Set<string>>) =>
      new Map([...m].map(([k, v]) => [k, [...v].sort().join(', ')]));
    assert.ok(documented.size > 5, 'the list was found in docs/architecture.md');
    assert.deepEqual(
      Object.fromEntries([...documented].sort()),
      Object.fromEntries([...asText(actual)].sort()),
      'update the list under "What the imports actually are" in docs/architecture.md',
    );
  });

  test('the check sees imports at all (it would pass vacuously otherwise)', () => {
    const all = imports();
    assert.ok(all.length > 300, `only ${all.length} imports found`);
    assert.ok(all.some(([from, to]) => from === 'cli' && to === 'server'));
  });
});

describe('demo/ and peers/harness/: outside src/, on the public API', () => {
  test('src/ imports nothing outside src/, but for the demo commands loading demo/ with import()', () => {
    const leaving = relativeImports(SRC).filter(({ target }) => !inside(target, SRC));
    const wrong = leaving.filter(
      (i) => !(i.dynamic && inside(i.target, DEMO) && DEMO_LOADERS.includes(relative(REPO, i.file))),
    );
    assert.deepEqual(wrong.map(shown), []);
    assert.deepEqual([...new Set(leaving.map((i) => relative(REPO, i.file)))].sort(), DEMO_LOADERS);
  });

  test('demo/ and peers/harness/ reach the product only through src/index.ts', () => {
    const all = [...relativeImports(DEMO), ...relativeImports(HARNESS)];
    const wrong = all.filter(
      ({ target }) => target !== PUBLIC_ENTRY && !inside(target, DEMO) && !inside(target, HARNESS),
    );
    assert.deepEqual(wrong.map(shown), []);
    assert.ok(all.some(({ target }) => target === PUBLIC_ENTRY));
  });

  test('peers/harness/ does not import demo/ (the tests run peers without the demo)', () => {
    const wrong = relativeImports(HARNESS).filter(({ target }) => inside(target, DEMO));
    assert.deepEqual(wrong.map(shown), []);
  });

  test('importing any module of demo/ or peers/harness/ registers no process handler', async () => {
    const events = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'uncaughtException'] as const;
    const counts = () => events.map((e) => `${e}: ${process.listenerCount(e)}`);
    const before = counts();
    for (const file of [...files(DEMO), ...files(HARNESS)]) await import(pathToFileURL(file).href);
    assert.deepEqual(counts(), before);
  });
});

test('only cli/ reads process.env in src/ (settings are resolved there, once)', () => {
  const readers = files(SRC)
    .filter((file) => unitOf(file) !== 'cli' && /\bprocess\.env\b/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(REPO, file));
  assert.deepEqual(readers, []);
});
