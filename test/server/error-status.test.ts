// Every error kind reaches the caller as the gRPC status the design names, through the one switch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ERROR_KINDS, type ErrorKind } from '../../src/errors.js';
import { grpcStatusFor } from '../../src/server/error-status.js';

const EXPECTED: Record<ErrorKind, status> = {
  'invalid-input': status.INVALID_ARGUMENT,
  unauthenticated: status.UNAUTHENTICATED,
  'permission-denied': status.PERMISSION_DENIED,
  'ca-unusable': status.INTERNAL,
  unavailable: status.UNAVAILABLE,
  config: status.INTERNAL,
  internal: status.INTERNAL,
};

test('every error kind maps to its gRPC status', () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), [...ERROR_KINDS].sort(), 'the table covers every kind');
  for (const kind of ERROR_KINDS) assert.equal(grpcStatusFor(kind), EXPECTED[kind], kind);
});
