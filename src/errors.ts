// The one error type of meshca: every expected failure carries a stable code, a kind that
// server/ maps to a gRPC status and cli/ to an exit code, and a message for the operator.

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

export class MeshcaError extends Error {
  override readonly name = 'MeshcaError';
  /** Stable, upper-case code, namespaced by layer (`PKI_…`, `CA_…`, `SERVER_…`). Tests assert on it. */
  readonly code: string;
  readonly kind: ErrorKind;

  constructor(code: string, kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.kind = kind;
  }
}

export function isMeshcaError(err: unknown): err is MeshcaError {
  return err instanceof MeshcaError;
}

/** Shorthands so call sites read as what went wrong rather than how the error is built. */
export const invalidInput = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'invalid-input', message, { cause });
export const configError = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'config', message, { cause });
export const caUnusable = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'ca-unusable', message, { cause });
export const unauthenticated = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'unauthenticated', message, { cause });
export const permissionDenied = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'permission-denied', message, { cause });
export const unavailable = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'unavailable', message, { cause });
export const internalError = (code: string, message: string, cause?: unknown) =>
  new MeshcaError(code, 'internal', message, { cause });
