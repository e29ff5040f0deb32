// Property tests of the PEM decoder against hostile text: random strings, PEM-shaped fragments,
// mutations of valid bundles, and inputs built to make a backtracking matcher explode. It may only
// return the blocks or refuse with PKI_PEM_MALFORMED / PKI_PEM_ENCRYPTED, and always quickly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodePem, encodePem } from '../../src/pki/pem.js';
import { check, guarded, outcomeOf, runsFor } from './fuzz-settings.js';
import { applyTextEdit, type TextEdit } from './text-edits.js';

const PEM_ERROR = /^PKI_PEM_(MALFORMED|ENCRYPTED)$/;
const decoded = (text: string) => outcomeOf(() => decodePem(text, 'fuzz'), ['invalid-input'], PEM_ERROR);

/** RFC 7468 labels: words of A-Z, 0-9 and "#", one space or dash between them. */
const label = fc.stringMatching(/^[A-Z0-9#]{1,12}(?:[ -][A-Z0-9#]{1,12}){0,2}$/);
const newline = fc.constantFrom('\n', '\r\n');
/** Text between blocks, as OpenSSL and people leave it (`subject=…`, comments), without dashes. */
const junk = fc.string({ maxLength: 40 }).map((s) => s.replace(/-/g, '_'));
const block = fc.record({ type: label, der: fc.uint8Array({ minLength: 1, maxLength: 200 }) });

const FRAGMENTS = [
  '-----BEGIN ',
  '-----END ',
  '-----',
  '-',
  'CERTIFICATE',
  'CERTIFICATE REQUEST',
  'A',
  ' ',
  '#',
  '\n',
  '\r\n',
  ':',
  'Proc-Type: 4,ENCRYPTED',
  'MIIB',
  'AA==',
  '=',
  '+/',
  '\u0000',
  'é',
];
/** Text made of PEM's own pieces, so BEGIN and END lines appear (and half-appear) often. */
const pemShaped = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 4 })), {
  maxLength: 30,
});

const validBundle = fc
  .tuple(fc.array(block, { minLength: 1, maxLength: 3 }), newline, junk, junk)
  .map(([blocks, eol, before, between]) => ({
    blocks,
    text:
      before +
      eol +
      blocks
        .map((b) => encodePem(b.type, b.der).replace(/\n/g, eol))
        .join(between.length > 0 ? `${between}${eol}` : ''),
  }));

type Edit = TextEdit | { op: 'duplicate-line'; line: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    op: fc.constant('replace' as const),
    at: fc.nat(),
    char: fc.string({ minLength: 1, maxLength: 1 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...FRAGMENTS) }),
  fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ op: fc.constant('duplicate-line' as const), line: fc.nat() }),
);

function applyEdit(text: string, e: Edit): string {
  if (e.op !== 'duplicate-line') return applyTextEdit(text, e);
  const lines = text.split('\n');
  const i = e.line % lines.length;
  lines.splice(i, 0, lines[i]!);
  return lines.join('\n');
}

/** Repetitions that cost a backtracking `-----BEGIN (label)-----(body)-----END …` matcher dearly. */
const PATHOLOGICAL = [
  '-----BEGIN A-----',
  '-----BEGIN ',
  '-',
  '-----BEGIN A-----\n-----END a',
  '-----END A-----',
  'A-----',
  '-----BEGIN A----- ',
];

describe('PEM decoder, fuzzed', () => {
  it('random text decodes or is refused with a PKI_PEM code', () => {
    check(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          pemShaped.map((parts) => parts.join('')),
        ),
        guarded((text: string) => {
          const result = decoded(text);
          if (result.ok) for (const b of result.value) assert.ok(b.der.length > 0 && b.type.length > 0);
        }),
      ),
      runsFor(500),
    );
  });

  it('bundles written by encodePem, with CRLF and text between blocks, decode to the same blocks', () => {
    check(
      fc.property(
        validBundle,
        guarded(({ blocks, text }: { blocks: { type: string; der: Uint8Array }[]; text: string }) => {
          assert.deepEqual(
            decodePem(text).map((b) => ({ type: b.type, der: new Uint8Array(b.der) })),
            blocks.map((b) => ({ type: b.type, der: new Uint8Array(b.der) })),
          );
        }),
      ),
      runsFor(300),
    );
  });

  it('edited bundles decode or are refused with a PKI_PEM code', () => {
    check(
      fc.property(
        validBundle,
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        guarded(({ text }: { text: string }, edits: Edit[]) => {
          decoded(edits.reduce(applyEdit, text));
        }),
      ),
      runsFor(500),
    );
  });

  it('megabyte inputs built to make a matcher backtrack are answered in linear time', () => {
    check(
      fc.property(
        fc.constantFrom(...PATHOLOGICAL),
        fc.constantFrom('', '-----END A-----', '\n-----END A-----\n', 'x'),
        guarded((unit: string, tail: string) => {
          // The gRPC server takes messages up to 1 MiB; a CSR field can be almost all of it.
          decoded(unit.repeat(Math.floor((1 << 20) / unit.length)) + tail);
        }),
      ),
      runsFor(28, 100),
    );
  });

  // It once took 13 s; how long the refusal takes is measured by `npm run bench` (bench/hostile-inputs.ts).
  it('regression: 17 KB of repeated "-----BEGIN A-----" is refused', () => {
    const result = decoded('-----BEGIN A-----'.repeat(1000));
    assert.ok(!result.ok);
    assert.equal(result.error.code, 'PKI_PEM_MALFORMED');
    assert.match(result.error.message, /^fuzz: no PEM block found/);
  });

  it('two blocks joined without a newline (cat of a file without one) both decode', () => {
    const a = encodePem('CERTIFICATE', Buffer.from('first')).trimEnd();
    const b = encodePem('CERTIFICATE', Buffer.from('second'));
    assert.deepEqual(
      decodePem(a + b).map((x) => x.der.toString()),
      ['first', 'second'],
    );
  });
});
