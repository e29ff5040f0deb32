// The one place where meshca's error kinds become gRPC status codes.
import { status } from '@grpc/grpc-js';
import type { ErrorKind } from '../errors.js';

export function grpcStatusFor(kind: ErrorKind): status {
  switch (kind) {
    case 'invalid-input':
      return status.INVALID_ARGUMENT;
    case 'unauthenticated':
      return status.UNAUTHENTICATED;
    case 'permission-denied':
      return status.PERMISSION_DENIED;
    case 'ca-unusable':
      return status.INTERNAL;
    case 'unavailable':
      return status.UNAVAILABLE;
    case 'config':
      return status.INTERNAL;
    case 'internal':
      return status.INTERNAL;
    default: {
      const unreachable: never = kind;
      return unreachable;
    }
  }
}
