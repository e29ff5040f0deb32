// One outbound port of the sidecar: the app speaks plaintext HTTP to 127.0.0.1, the sidecar carries
// each request to the upstream workload over mutual TLS with the workload's own certificate.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { permissionDenied } from '../errors.js';
import { endToEndHeaders, forwardRequest } from './forward-request.js';
import { listen } from './listen.js';
import { peerSpiffeId } from './peer-identity.js';
import { secureContextOptions } from './secure-context-options.js';
import { sendUpstreamError } from './upstream-error.js';
import type { CredentialsSource, WorkloadCredentials } from './workload-credentials.js';

export interface OutboundOptions {
  /** Names this upstream in logs. */
  name: string;
  listenPort: number;
  upstreamHost: string;
  upstreamPort: number;
  /** When set, the upstream's certificate must carry exactly this SPIFFE ID (Istio's subjectAltNames). */
  expectedSpiffeId?: string;
}

export interface OutboundListener {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

// Matches the inbound side's idle timeout: keep-alive is the point of a sidecar pool.
const IDLE_TIMEOUT_MS = 60 * 60 * 1000;

/**
 * Replaces hostname checking: mesh certificates name SPIFFE IDs, not DNS names. The chain has
 * already been verified against the workload's roots when Node calls this.
 */
function checkUpstreamIdentity(expected: string | undefined) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    if (expected === undefined) return undefined;
    const actual = peerSpiffeId(cert);
    if (actual === undefined) {
      return permissionDenied(
        'PROXY_UPSTREAM_NO_SPIFFE_ID',
        `the upstream certificate has no spiffe:// URI SAN (it has "${cert.subjectaltname ?? 'none'}"); expected ${expected}`,
      );
    }
    if (actual !== expected) {
      return permissionDenied(
        'PROXY_UPSTREAM_SPIFFE_ID_MISMATCH',
        `the upstream presented SPIFFE ID ${actual}, expected ${expected}; check the destination's service account or the expected ID`,
      );
    }
    return undefined;
  };
}

function makeAgent(credentials: WorkloadCredentials, expected: string | undefined): https.Agent {
  return new https.Agent({
    keepAlive: true,
    ...secureContextOptions(credentials),
    rejectUnauthorized: true,
    checkServerIdentity: checkUpstreamIdentity(expected),
  });
}

/** Lets in-flight requests on an old agent finish, but never reuses its connections again. */
function retireAgent(agent: https.Agent): void {
  agent.on('free', (socket: net.Socket) => socket.destroy());
  for (const pool of Object.values(agent.freeSockets)) for (const socket of pool ?? []) socket.destroy();
}

export async function startOutboundListener(
  opts: OutboundOptions & { credentials: CredentialsSource; log: (event: object) => void },
): Promise<OutboundListener> {
  const { credentials, log } = opts;
  let agent = makeAgent(await credentials.whenReady(), opts.expectedSpiffeId);
  const retired = new Set<https.Agent>();

  const unsubscribe = credentials.onChange((next) => {
    // A fresh pool (and TLS session cache) makes new connections present the new certificate and
    // trust the new roots; connections of the old pool finish the requests they carry.
    retireAgent(agent);
    retired.add(agent);
    for (const old of retired) if (Object.keys(old.sockets).length === 0) retired.delete(old);
    agent = makeAgent(next, opts.expectedSpiffeId);
  });

  const server = http.createServer((req, res) => {
    forwardRequest(req, res, {
      headers: endToEndHeaders(req.headers),
      open: (request) =>
        https.request({ ...request, host: opts.upstreamHost, port: opts.upstreamPort, agent }),
      onUpstreamError: (err) => {
        const reason = sendUpstreamError(res, err);
        log({
          event: 'outbound_upstream_error',
          name: opts.name,
          upstream: `${opts.upstreamHost}:${opts.upstreamPort}`,
          code: (err as NodeJS.ErrnoException).code,
          reason,
        });
      },
    });
  });
  server.keepAliveTimeout = IDLE_TIMEOUT_MS;

  let port: number;
  try {
    port = await listen(server, opts.listenPort, '127.0.0.1', `sidecar outbound "${opts.name}"`);
  } catch (err) {
    unsubscribe();
    agent.destroy();
    throw err;
  }
  log({
    event: 'outbound_listening',
    name: opts.name,
    port,
    upstream: `${opts.upstreamHost}:${opts.upstreamPort}`,
    expectedSpiffeId: opts.expectedSpiffeId ?? null,
  });

  return {
    name: opts.name,
    port,
    async close() {
      unsubscribe();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      for (const old of retired) old.destroy();
      await closed;
    },
  };
}
