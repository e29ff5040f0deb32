// The error table (src/error-codes.ts) and the source agree, read from the source files (src/, and
// demo/ and peers/harness/, which throw the table's DEMO_ codes through the public API): every code
// in the table is used somewhere, every code used is in the table, and each is thrown with the kind
// the table gives it. The type of MeshcaError's code checks most of this already;
// these tests also catch a dead entry, a code built at run time, and a kind passed as a string.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { CaCallError, caCallCode } from '../src/agent/ca-client.js';
import { ERROR_CODES, type ErrorCode } from '../src/error-codes.js';
import { ERROR_KINDS, type ErrorKind } from '../src/errors.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(REPO, 'src');
const TABLE_FILE = join(SRC, 'error-codes.ts');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

interface Source {
  file: string;
  text: string;
}

const SOURCES: Source[] = [SRC, join(REPO, 'demo'), join(REPO, 'peers', 'harness')]
  .flatMap(walk)
  .filter((f) => f.endsWith('.ts') && f !== TABLE_FILE)
  .map((f) => ({ file: relative(REPO, f), text: readFileSync(f, 'utf8') }));

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const isCode = (text: string): text is ErrorCode => Object.hasOwn(ERROR_CODES, text);

/** The layers codes are named by: the first word of every code (AGENT, CA, PKI, …). */
const NAMESPACES = new Set(CODES.map((c) => c.split('_')[0]!));

/** String literals in src/ that start like a code but are something else. */
const NOT_CODES = new Set([
  'CA_ADDR', // Istio's environment variable for the CA's address
]);

/** The functions that build a MeshcaError from a code, with the kind they give it. */
const BUILDERS: Record<string, ErrorKind | 'from-argument' | 'from-table'> = {
  invalidInput: 'invalid-input',
  configError: 'config',
  caUnusable: 'ca-unusable',
  unauthenticated: 'unauthenticated',
  permissionDenied: 'permission-denied',
  unavailable: 'unavailable',
  internalError: 'internal',
  'new MeshcaError': 'from-argument',
  errorForCode: 'from-table',
  meshcaErrorArgs: 'from-table',
};

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

interface Construction {
  where: string;
  builder: string;
  /** The first argument when it is a string literal. */
  code: string | undefined;
  /** The kind the call gives, when it can be read. */
  kind: string | undefined;
}

/** Every call of a builder in src/, following aliases such as `const refuse = unauthenticated`. */
function constructions(): Construction[] {
  const found: Construction[] = [];
  for (const { file, text } of SOURCES) {
    const builders = { ...BUILDERS };
    for (const m of text.matchAll(/\bconst (\w+) = (\w+);/g)) {
      const target = BUILDERS[m[2]!];
      if (target !== undefined) builders[m[1]!] = target;
    }
    const names = Object.keys(builders)
      .map((n) => (n.startsWith('new ') ? `new\\s+${n.slice(4)}` : `\\b${n}`))
      .join('|');
    const call = new RegExp(
      `(?<!function\\s)(${names})\\(\\s*(?:(['"\`])([^'"\`]*)\\2)?(?:\\s*,\\s*'([a-z-]+)')?`,
      'g',
    );
    for (const m of text.matchAll(call)) {
      const builder = m[1]!.replace(/\s+/g, ' ');
      const given = builders[builder]!;
      found.push({
        where: `${file}:${lineOf(text, m.index)}`,
        builder,
        code: m[3],
        kind: given === 'from-argument' ? m[4] : given === 'from-table' ? undefined : given,
      });
    }
  }
  return found;
}

describe('the error table', () => {
  test('is well formed: codes in upper case, a known kind, a one-line meaning', () => {
    for (const code of CODES) {
      const { kind, meaning } = ERROR_CODES[code];
      assert.match(code, /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/, code);
      assert.ok((ERROR_KINDS as readonly string[]).includes(kind), `${code}: kind ${kind}`);
      assert.match(meaning, /^[^\n]{10,140}$/, `${code}: the meaning is one line of 10 to 140 characters`);
      assert.match(meaning, /\.$/, `${code}: the meaning is a sentence`);
    }
  });

  test('every code in the table is used somewhere in src/, demo/ or peers/harness/', () => {
    const dead = CODES.filter(
      (code) => !SOURCES.some(({ text }) => new RegExp(`['"\`]${code}['"\`]`).test(text)),
    );
    assert.deepEqual(dead, [], `codes in src/error-codes.ts that nothing uses: remove them`);
  });

  test('every code used in src/ is in the table', () => {
    const unknown: string[] = [];
    for (const { file, text } of SOURCES) {
      for (const m of text.matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]/g)) {
        const literal = m[1]!;
        if (NAMESPACES.has(literal.split('_')[0]!) && !isCode(literal) && !NOT_CODES.has(literal)) {
          unknown.push(`${file}:${lineOf(text, m.index)} ${literal}`);
        }
      }
    }
    for (const c of constructions()) {
      if (c.code !== undefined && !isCode(c.code)) unknown.push(`${c.where} ${c.code}`);
    }
    assert.deepEqual(
      [...new Set(unknown)],
      [],
      'codes used in src/ but missing from src/error-codes.ts: add them there (with kind and meaning), then run "npm run docs:errors"',
    );
  });

  test('no code is built at run time from pieces', () => {
    // A template literal type such as `CA_CALL_${string}` is fine: it only names codes of the table.
    const built: string[] = [];
    for (const { file, text } of SOURCES) {
      for (const m of text.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]*)\$\{(?!string\}|number\})/g)) {
        if (NAMESPACES.has(m[1]!.split('_')[0]!)) built.push(`${file}:${lineOf(text, m.index)} ${m[1]}…`);
      }
    }
    assert.deepEqual(built, [], 'list every code in src/error-codes.ts and pick one of them instead');
  });

  test('every code is thrown with the kind the table gives it', () => {
    const all = constructions();
    assert.ok(all.length > 150, `found ${all.length} constructions; the search is broken`);
    const wrong = all
      .filter((c) => c.code !== undefined && isCode(c.code) && c.kind !== undefined)
      .filter((c) => c.kind !== ERROR_CODES[c.code as ErrorCode].kind)
      .map(
        (c) =>
          `${c.where} ${c.code} as ${c.kind}, but the table says ${ERROR_CODES[c.code as ErrorCode].kind}`,
      );
    assert.deepEqual(wrong, []);
  });

  test('CA_CALL_ codes: one per gRPC status but OK, with the kinds clients retry on', () => {
    const expectedKind = (s: status): ErrorKind => {
      switch (s) {
        case status.INVALID_ARGUMENT:
          return 'invalid-input';
        case status.UNAUTHENTICATED:
          return 'unauthenticated';
        case status.PERMISSION_DENIED:
          return 'permission-denied';
        case status.UNAVAILABLE:
        case status.DEADLINE_EXCEEDED:
        case status.RESOURCE_EXHAUSTED:
        case status.ABORTED:
          return 'unavailable';
        default:
          return 'internal';
      }
    };
    const statuses = Object.values(status).filter(
      (s): s is status => typeof s === 'number' && s !== status.OK,
    );
    assert.equal(statuses.length, 16);
    for (const s of statuses) {
      const err = new CaCallError(s, 'details');
      assert.equal(err.code, `CA_CALL_${status[s]}`);
      assert.equal(err.kind, expectedKind(s), err.code);
      assert.equal(err.message, `the CA answered ${status[s]}: details`);
    }
    assert.deepEqual(
      CODES.filter((c) => c.startsWith('CA_CALL_')).sort(),
      statuses.map((s) => `CA_CALL_${status[s]}`).sort(),
      'the table holds exactly the CA_CALL_ codes a call can fail with',
    );
    assert.equal(caCallCode(99 as status), 'CA_CALL_UNKNOWN', 'a status outside the list is UNKNOWN');
  });
});
