// The one error type of meshca: every expected failure carries a stable code, a kind that
// server/ maps to a gRPC status and cli/ to an exit code, and a message for the operator.
// Codes and their kinds are listed once, in error-codes.ts.
import { type CodesOfKind, ERROR_CODES, type ErrorCode, type KindOf } from './error-codes.js';

export type { CodesOfKind, ErrorCode } from './error-codes.js';

/** What sort of failure this is; server/ maps each kind to one gRPC status code. */
export type ErrorKind =
  | 'invalid-input' // the caller sent something malformed or not allowed (bad CSR, TTL, PEM, flag)
  | 'unauthenticated' // no, expired or forged credentials
  | 'permission-denied' // a valid caller asking for someone else's identity or signer
  | 'ca-unusable' // the CA cannot sign (not ready, expired, bad bundle)
  | 'unavailable' // a dependency (external signer, CA server) cannot be reached or timed out
  | 'config' // the operator's files or settings are wrong
  | 'internal'; // a bug or an unexpected failure

export const ERROR_KINDS: readonly ErrorKind[] = [
  'invalid-input',
  'unauthenticated',
  'permission-denied',
  'ca-unusable',
  'unavailable',
  'config',
  'internal',
];

/** MeshcaError's arguments: a code from the table, with the one kind the table gives it. */
export type MeshcaErrorArgs = {
  [C in ErrorCode]: [code: C, kind: KindOf<C>, message: string, options?: { cause?: unknown }];
}[ErrorCode];

export class MeshcaError extends Error {
  override readonly name = 'MeshcaError';
  /** Stable, upper-case code, namespaced by layer (`PKI_…`, `CA_…`, `SERVER_…`). Tests assert on it. */
  readonly code: ErrorCode;
  readonly kind: ErrorKind;

  constructor(...[code, kind, message, options]: MeshcaErrorArgs) {
    super(message, options);
    this.code = code;
    this.kind = kind;
  }
}

export function isMeshcaError(err: unknown): err is MeshcaError {
  return err instanceof MeshcaError;
}

/**
 * The arguments for a code known only at run time (re-thrown, or sent by another process): the
 * kind is the one the table gives it.
 */
export function meshcaErrorArgs(
  code: ErrorCode,
  message: string,
  options?: { cause?: unknown },
): MeshcaErrorArgs {
  return [code, ERROR_CODES[code].kind, message, options] as MeshcaErrorArgs;
}

/** The error for a code known only at run time, with the kind the table gives it. */
export const errorForCode = (code: ErrorCode, message: string, options?: { cause?: unknown }) =>
  new MeshcaError(...meshcaErrorArgs(code, message, options));

function shorthand<K extends ErrorKind>(kind: K) {
  return (code: CodesOfKind<K>, message: string, cause?: unknown): MeshcaError =>
    new MeshcaError(...([code, kind, message, { cause }] as unknown as MeshcaErrorArgs));
}

/**
 * Shorthands so call sites read as what went wrong rather than how the error is built. Each accepts
 * only the codes of its kind in error-codes.ts, so a code cannot be thrown with two kinds.
 */
export const invalidInput = shorthand('invalid-input');
export const configError = shorthand('config');
export const caUnusable = shorthand('ca-unusable');
export const unauthenticated = shorthand('unauthenticated');
export const permissionDenied = shorthand('permission-denied');
export const unavailable = shorthand('unavailable');
export const internalError = shorthand('internal');
