// Why a connection's client certificate was not accepted. The server asks for a certificate but lets
// the handshake through without a valid one (token callers have none); grpc-js then hides the
// certificate from the call, so a workload whose renewal certificate does not verify looked like a
// caller with no credentials at all. This remembers, per open connection, what TLS said about it.
import type { TLSSocket } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import { grpcHttp2Servers } from './grpc-http2-servers.js';

export interface RejectedClientCertificates {
  /** What was wrong with the certificate the peer `host:port` presented, if it presented one that failed. */
  reasonFor(peer: string): string | undefined;
}

/** The key grpc-js's `call.getPeer()` gives for this socket. */
function peerKey(socket: TLSSocket): string {
  return socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : String(socket.remoteAddress);
}

export function trackRejectedClientCertificates(server: grpc.Server): RejectedClientCertificates {
  const reasons = new Map<string, string>();
  for (const http2Server of grpcHttp2Servers(server)) {
    http2Server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.authorized) return;
      const cert = socket.getPeerCertificate();
      if (!cert?.raw) return; // no certificate: a token caller
      const key = peerKey(socket);
      const who = cert.subjectaltname ?? (cert.subject ? JSON.stringify(cert.subject) : 'no subject');
      reasons.set(
        key,
        `${String(socket.authorizationError ?? 'not verified')} (certificate ${who.slice(0, 200)})`,
      );
      socket.once('close', () => reasons.delete(key));
    });
  }
  return { reasonFor: (peer) => reasons.get(peer) };
}
