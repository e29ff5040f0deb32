// Every error kind has the exit code the README gives it (0 ok, 1 the operation failed, 2 bad usage
// or input, 3 bad configuration or CA files, 70 a bug), and main() exits with it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CliContext } from '../../src/cli/context.js';
import { exitCodeFor, main, registerCommand } from '../../src/cli/main.js';
import { ERROR_CODES, type ErrorCode } from '../../src/error-codes.js';
import { ERROR_KINDS, type ErrorKind, errorForCode } from '../../src/errors.js';

const EXPECTED: Record<ErrorKind, number> = {
  'invalid-input': 2,
  unauthenticated: 1,
  'permission-denied': 1,
  'ca-unusable': 1,
  unavailable: 1,
  config: 3,
  internal: 70,
};

/** The first code of the table with this kind. */
function codeOfKind(kind: ErrorKind): ErrorCode {
  const code = (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].kind === kind);
  assert.ok(code, `the table has a code of kind ${kind}`);
  return code;
}

describe('exit codes', () => {
  it('every kind has its exit code', () => {
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...ERROR_KINDS].sort(), 'the test covers every kind');
    for (const kind of ERROR_KINDS) assert.equal(exitCodeFor(kind), EXPECTED[kind], kind);
  });

  it('every code of the table exits 1, 2, 3 or 70', () => {
    for (const [code, { kind }] of Object.entries(ERROR_CODES)) {
      assert.ok([1, 2, 3, 70].includes(exitCodeFor(kind)), code);
    }
  });

  for (const kind of ERROR_KINDS) {
    it(`a command failing with a MeshcaError of kind ${kind} prints its message and exits ${EXPECTED[kind]}`, async () => {
      const code = codeOfKind(kind);
      const name = `fail-with-${kind}`;
      registerCommand(
        name,
        async () => {
          throw errorForCode(code, `a ${kind} failure`);
        },
        'test only',
      );
      const out: string[] = [];
      const err: string[] = [];
      const ctx: CliContext = {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
        env: {},
        cwd: process.cwd(),
      };
      assert.equal(await main([name], ctx), EXPECTED[kind]);
      assert.deepEqual(out, []);
      assert.deepEqual(err, [`meshca ${name}: a ${kind} failure\n`]);
    });
  }

  it('a failure that is not a MeshcaError is a bug: exit 70 with the stack', async () => {
    registerCommand(
      'fail-unexpectedly',
      async () => {
        throw new TypeError('boom');
      },
      'test only',
    );
    const err: string[] = [];
    const ctx: CliContext = { out: () => {}, err: (t) => err.push(t), env: {}, cwd: process.cwd() };
    assert.equal(await main(['fail-unexpectedly'], ctx), 70);
    assert.match(
      err.join(''),
      /^meshca fail-unexpectedly: unexpected failure \(a bug; please report it\): TypeError: boom\n/,
    );
  });
});
