// What one client connection may make the CA hold, and for how long. Every workload can reach the CA,
// so a client that completes TLS and then sends nothing, sends broken HTTP/2, or opens streams it
// never finishes must lose its connection in bounded time instead of pinning a socket and memory.
import type { Http2Stream, SecureServerOptions } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { grpcHttp2Servers } from './grpc-http2-servers.js';

export interface ConnectionLimits {
  /** A TLS handshake not finished by then is dropped (a client that connects and sends nothing). */
  handshakeTimeoutMs: number;
  /** The server pings every connection this often... */
  keepaliveTimeMs: number;
  /** ...and drops one whose answer does not come within this (broken or non-HTTP/2 peers never answer). */
  keepaliveTimeoutMs: number;
  /** A connection without a call for this long is closed; agents reconnect for their next renewal. */
  maxConnectionIdleMs: number;
  /** Every connection is closed after this long (± 10% jitter), after a grace period for its calls. */
  maxConnectionAgeMs: number;
  maxConnectionAgeGraceMs: number;
  /** Streams one connection may have open at once; more are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** nghttp2's memory budget per connection in MB; past it, new streams are refused. */
  maxSessionMemoryMb: number;
  /** The largest header list a client may send (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE), in bytes. */
  maxHeaderListBytes: number;
  /** A request whose client half (headers and the CSR message) is not complete by then is cancelled. */
  requestReceiveTimeoutMs: number;
  /** On shutdown, once the calls in flight have finished, connections still open after this are cut. */
  shutdownGraceMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = Object.freeze({
  handshakeTimeoutMs: 10_000,
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5_000,
  maxConnectionIdleMs: 5 * 60_000,
  maxConnectionAgeMs: 30 * 60_000,
  maxConnectionAgeGraceMs: 60_000,
  maxConcurrentStreams: 100,
  maxSessionMemoryMb: 10,
  maxHeaderListBytes: 16 * 1024,
  requestReceiveTimeoutMs: 10_000,
  shutdownGraceMs: 3_000,
});

/** The limits gRPC enforces itself: keepalive, idle and age. */
export function grpcServerOptions(limits: ConnectionLimits): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': 1 << 20,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs,
    'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc-node.max_session_memory': limits.maxSessionMemoryMb,
  };
}

/**
 * Node's own HTTP/2 and TLS limits, handed to http2.createSecureServer through the server credentials
 * (grpc-js passes a credential's constructor options straight through, after its own defaults).
 */
export function http2ServerOptions(limits: ConnectionLimits): SecureServerOptions {
  return {
    handshakeTimeout: limits.handshakeTimeoutMs,
    maxSessionMemory: limits.maxSessionMemoryMb,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderListBytes,
    },
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  };
}

/**
 * Cancels streams whose client half is still open after `requestReceiveTimeoutMs`: a unary call's
 * request is one small message, so a client that sends headers and then nothing is holding a stream
 * (and memory) on purpose. grpc-js has no such option, so this listens on its HTTP/2 servers. When
 * they cannot be reached (another grpc-js version), it logs a warning and returns false, and the
 * keepalive and age limits still bound the damage.
 */
export function timeOutHalfSentRequests(server: grpc.Server, limits: ConnectionLimits, log: Logger): boolean {
  const servers = grpcHttp2Servers(server);
  if (servers.length === 0) {
    log.warn(
      'cannot time out half-sent requests with this grpc-js version; keepalive and age limits still apply',
      {
        event: 'limits-partial',
      },
    );
    return false;
  }
  for (const http2Server of servers) {
    // Registered before grpc-js's own handler runs for later streams is not needed: this only watches.
    http2Server.on('stream', (stream: Http2Stream) => {
      if (stream.readableEnded) return;
      const timer = setTimeout(() => {
        if (!stream.readableEnded && !stream.destroyed) stream.close(0x8 /* NGHTTP2_CANCEL */);
      }, limits.requestReceiveTimeoutMs);
      timer.unref();
      const clear = () => clearTimeout(timer);
      stream.once('end', clear);
      stream.once('close', clear);
    });
  }
  return true;
}
