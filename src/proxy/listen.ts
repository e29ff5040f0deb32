// Binds a sidecar listener, turning the bind failure into an error that names the port and the fix.
import type net from 'node:net';
import { unavailable } from '../errors.js';

/** Listens on `host:port` (0 picks a free port) and resolves with the bound port. */
export function listen(server: net.Server, port: number, host: string, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        unavailable(
          'PROXY_LISTEN_FAILED',
          `${what}: cannot listen on ${host}:${port} (${err.code ?? err.message}); choose a free port or stop the process holding it`,
          err,
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
