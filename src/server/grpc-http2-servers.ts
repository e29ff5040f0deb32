// grpc-js keeps the Node HTTP/2 servers it listens with in a private map, and offers no hook for
// what happens below a call (TLS outcomes, half-sent streams). This is the one place that reaches in;
// a grpc-js without the map yields nothing, and callers degrade as they document.
import type { Http2SecureServer } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** The HTTP/2 servers behind a bound grpc-js server (empty before bindAsync, or on another grpc-js). */
export function grpcHttp2Servers(server: grpc.Server): Http2SecureServer[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  return servers instanceof Map ? ([...servers.keys()] as Http2SecureServer[]) : [];
}
