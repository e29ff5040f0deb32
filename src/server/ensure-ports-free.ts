// Checks, before `meshca serve` creates any file, that the addresses it is about to listen on can be
// bound: a taken monitoring port found only after the CA's root and keys were written would leave
// them behind for a process that then exits. The check binds and releases each address; the real
// listen later can still lose a race, and is reported the same way.
import { createServer } from 'node:net';
import { unavailable } from '../errors.js';

export interface ListenAddress {
  /** For the message: "--listen", "--monitoring". */
  flag: string;
  host: string;
  port: number;
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The operator-facing error for an address that cannot be bound. */
export function listenFailed(a: ListenAddress, err: NodeJS.ErrnoException) {
  const why =
    err.code === 'EADDRINUSE'
      ? 'another process is listening there'
      : err.code === 'EACCES'
        ? 'this user may not bind that port'
        : err.code === 'EADDRNOTAVAIL'
          ? 'this machine has no such address'
          : err.message;
  return unavailable(
    a.flag === '--monitoring' ? 'SERVER_MONITORING_LISTEN_FAILED' : 'SERVER_LISTEN_FAILED',
    `cannot listen on ${bracketed(a.host)}:${a.port} (${a.flag}): ${why}; pick another ${a.flag} address${a.flag === '--monitoring' ? ' or --monitoring off' : ''}`,
    err,
  );
}

/** Resolves when every fixed port (port 0 means "any") can be bound now; else rejects naming it. */
export async function ensurePortsFree(addresses: readonly ListenAddress[]): Promise<void> {
  for (const a of addresses) {
    if (a.port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) => reject(listenFailed(a, err)));
      probe.listen({ host: a.host, port: a.port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}
