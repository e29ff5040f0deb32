// The sidecar's inbound port: terminates mutual TLS from other workloads (or plaintext, as the
// PeerAuthentication mode allows), checks the peer's SPIFFE ID, and relays HTTP to the local app.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { authorizePeer } from './authorize-peer.js';
import { endToEndHeaders, forwardRequest } from './forward-request.js';
import { listen } from './listen.js';
import { secureContextOptions } from './secure-context-options.js';
import { sendUpstreamError } from './upstream-error.js';
import type { CredentialsSource } from './workload-credentials.js';
import { formatXfcc, XFCC_HEADER } from './xfcc.js';

/** Istio's PeerAuthentication mTLS modes. */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface InboundOptions {
  port: number;
  /** Where to listen; default 127.0.0.1. */
  host?: string;
  /** The application's port on 127.0.0.1. */
  appPort: number;
  /** Read once per new connection, so a PeerAuthentication change applies without a restart. */
  mode: () => MtlsMode;
  /** Trust domains whose workloads may connect; default: this workload's own. */
  trustDomains?: string[];
}

export interface InboundListener {
  readonly port: number;
  close(): Promise<void>;
}

interface Peer {
  spiffeId: string;
  /** sha256 of the peer's leaf certificate DER, hex, as Envoy puts it in XFCC's Hash. */
  hash: string;
}

const TLS_HANDSHAKE_RECORD = 0x16;
// Envoy's default idle timeout for downstream connections is an hour; Node's 5 s would close the
// keep-alive connections that sidecar-to-sidecar traffic relies on.
const IDLE_TIMEOUT_MS = 60 * 60 * 1000;
// Envoy's listener_filters_timeout: a client that connects and sends nothing is not kept forever.
const FIRST_BYTE_TIMEOUT_MS = 15_000;

function readMode(mode: () => MtlsMode, log: (event: object) => void): MtlsMode {
  try {
    const value = mode();
    if (value === 'STRICT' || value === 'PERMISSIVE' || value === 'DISABLE') return value;
    log({ event: 'inbound_mode_invalid', value: String(value), using: 'STRICT' });
  } catch (err) {
    log({ event: 'inbound_mode_invalid', message: (err as Error).message, using: 'STRICT' });
  }
  // Failing closed: an unreadable policy must not open the port to plaintext.
  return 'STRICT';
}

export async function startInboundListener(
  opts: InboundOptions & { credentials: CredentialsSource; log: (event: object) => void },
): Promise<InboundListener> {
  const { credentials, log } = opts;
  const initial = await credentials.whenReady();
  const peers = new WeakMap<net.Socket, Peer>();
  const sockets = new Set<net.Socket>();
  const appAgent = new http.Agent({ keepAlive: true });

  const httpServer = http.createServer((req, res) => {
    const headers = endToEndHeaders(req.headers);
    // Only this proxy may tell the app who the peer is; whatever the client sent is a forgery.
    delete headers[XFCC_HEADER];
    const peer = peers.get(req.socket);
    headers['x-forwarded-proto'] = peer ? 'https' : 'http';
    if (peer) {
      const own = credentials.current() ?? initial;
      headers[XFCC_HEADER] = formatXfcc({
        by: own.spiffeId,
        hash: peer.hash,
        subject: '',
        uri: peer.spiffeId,
      });
    }
    forwardRequest(req, res, {
      headers,
      open: (request) => http.request({ ...request, host: '127.0.0.1', port: opts.appPort, agent: appAgent }),
      onUpstreamError: (err) => {
        const reason = sendUpstreamError(res, err);
        log({
          event: 'inbound_app_error',
          appPort: opts.appPort,
          code: (err as NodeJS.ErrnoException).code,
          reason,
        });
      },
    });
  });
  httpServer.keepAliveTimeout = IDLE_TIMEOUT_MS;

  const tlsServer = tls.createServer({
    ...secureContextOptions(initial),
    requestCert: true,
    // authorizePeer refuses unverified clients itself, so that the log says why.
    rejectUnauthorized: false,
  });
  tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
    log({
      event: 'inbound_tls_handshake_failed',
      remote: socket.remoteAddress,
      code: err.code,
      message: err.message,
    });
  });
  tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
    const trusted = opts.trustDomains ?? [(credentials.current() ?? initial).trustDomain];
    const decision = authorizePeer(socket, trusted);
    if (!decision.allowed) {
      log({
        event: 'inbound_peer_refused',
        remote: socket.remoteAddress,
        peer: decision.peer,
        reason: decision.reason,
      });
      socket.destroy();
      return;
    }
    peers.set(socket, { spiffeId: decision.spiffeId, hash: decision.hash });
    httpServer.emit('connection', socket);
  });

  const unsubscribe = credentials.onChange((next) => {
    // Only new handshakes use the new context; established connections keep theirs.
    tlsServer.setSecureContext(secureContextOptions(next));
  });

  const dispatch = (socket: net.Socket, first: Buffer): void => {
    const isTls = first[0] === TLS_HANDSHAKE_RECORD;
    const mode = readMode(opts.mode, log);
    if (isTls && mode === 'DISABLE') {
      log({ event: 'inbound_tls_refused', mode, remote: socket.remoteAddress });
      socket.destroy();
    } else if (!isTls && mode === 'STRICT') {
      log({ event: 'inbound_plaintext_refused', mode, remote: socket.remoteAddress });
      socket.resetAndDestroy();
    } else {
      (isTls ? tlsServer : httpServer).emit('connection', socket);
      // The http parser consumes by 'data' events; TLS reads the buffered bytes itself.
      if (!isTls) socket.resume();
    }
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A client that resets mid-handshake is routine; without a listener it would crash the process.
    socket.on('error', () => {});
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => {
      log({ event: 'inbound_first_byte_timeout', remote: socket.remoteAddress });
      socket.destroy();
    });
    // Peek at the first byte to tell TLS from plaintext, then give it back for the real reader.
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0); // from here on the TLS and HTTP layers own the timeouts
      socket.pause();
      socket.unshift(first);
      dispatch(socket, first);
    });
  });

  const host = opts.host ?? '127.0.0.1';
  let port: number;
  try {
    port = await listen(server, opts.port, host, 'sidecar inbound');
  } catch (err) {
    unsubscribe();
    appAgent.destroy();
    throw err;
  }
  log({ event: 'inbound_listening', host, port, appPort: opts.appPort });

  return {
    port,
    async close() {
      unsubscribe();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      appAgent.destroy();
      await closed;
    },
  };
}
