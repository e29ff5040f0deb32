// What a `meshca serve --workers N` primary and its workers say to each other over the cluster's IPC
// channel. Messages carry a `meshca:` type so that they never mix with cluster's or prom-client's.
import type { ErrorCode, ErrorKind } from '../errors.js';
import type { LogLevel } from '../log.js';
import type { CaServerOptions } from './ca-server.js';

/**
 * Everything a worker needs to run the CA server, resolved once by the primary. The monitoring port
 * is the primary's alone, and each worker makes its own logger.
 */
export type WorkerSettings = Omit<CaServerOptions, 'log' | 'monitoring' | 'servingMessage'> & {
  logLevel: LogLevel;
};

export type ToWorker =
  | { type: 'meshca:start'; settings: WorkerSettings }
  | { type: 'meshca:reload'; id: number }
  | { type: 'meshca:readiness'; id: number }
  | { type: 'meshca:metrics'; id: number }
  | { type: 'meshca:stop' };

/** A question the primary asks a serving worker; the worker answers with a `meshca:reply`. */
export type Question = Extract<ToWorker, { id: number }>['type'];

export type FromWorker =
  /** Sent once the worker listens for messages: a message sent before that would be lost. */
  | { type: 'meshca:hello' }
  | { type: 'meshca:listening'; grpcPort: number }
  /** The CA server could not start; the primary reports it once, for every worker. */
  | { type: 'meshca:failed'; error: { code: ErrorCode; kind: ErrorKind; message: string } }
  | Reply;

/**
 * The answer to a question: reload (ok: the bundle in service is good), readiness, or metrics (the
 * worker's registry as prom-client's getMetricsAsJSON gives it, for AggregatorRegistry.aggregate).
 */
export interface Reply {
  type: 'meshca:reply';
  id: number;
  ok: boolean;
  reason?: string;
  metrics?: object[];
}

export function isMeshcaMessage<T extends { type: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('meshca:')
  );
}
