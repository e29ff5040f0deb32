// A small plain-HTTP server for an operator's port: Prometheus /metrics from a registry, plus a few
// text endpoints (health, readiness). A leaf module: the agent's status port and the CA's monitoring
// port both use it, and it imports nothing of meshca. Every connection is bounded in time and in
// number, so a client that connects and stalls cannot pin sockets or memory.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Where /metrics comes from: a prom-client Registry, or anything that renders like one. */
export type MetricsSource = Pick<Registry, 'metrics' | 'contentType'>;

/** What a text endpoint answers; the body is sent as text/plain with a final newline. */
export interface TextReply {
  status: number;
  text: string;
}

export interface MetricsServer {
  port: number;
  /** Stops listening and drops open connections, so closing never waits on a client. */
  close(): Promise<void>;
}

/** Bounds on what clients can make the server hold; a scrape takes milliseconds, so they are tight. */
export interface MetricsServerLimits {
  /** A request's headers must arrive within this (ms) of the connection or of the previous response. */
  headersTimeoutMs: number;
  /** The whole request must arrive within this (ms); at least headersTimeoutMs. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (ms). */
  keepAliveTimeoutMs: number;
  /** How often (ms) the two request timeouts are checked: a stalled client goes within timeout + this. */
  checkIntervalMs: number;
  /** A connection with no traffic either way for this long (ms) is destroyed (a client that stops reading). */
  idleTimeoutMs: number;
  /** Connections beyond this many at once are closed as they arrive. */
  maxConnections: number;
}

export const DEFAULT_METRICS_SERVER_LIMITS: Readonly<MetricsServerLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  idleTimeoutMs: 30_000,
  maxConnections: 64,
});

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Served at /metrics. */
  registry: MetricsSource;
  /** Path (without query) → its answer, computed per request (a cluster primary asks its workers). */
  routes: Readonly<Record<string, () => TextReply | Promise<TextReply>>>;
  /** The body of a 404: which paths to try. */
  notFound: string;
  /** HTML pages under one path prefix (the dashboard), answered with their own status and headers. */
  pages?: {
    prefix: string;
    handle(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: string }>;
  };
  /** Overrides DEFAULT_METRICS_SERVER_LIMITS (tests shorten the timeouts). */
  limits?: Partial<MetricsServerLimits>;
}

function replyText(res: ServerResponse, { status, text }: TextReply): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`${text}\n`);
}

/** Listens on host:port; rejects with the listen error (the caller says what to do about it). */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const limits = { ...DEFAULT_METRICS_SERVER_LIMITS, ...opts.limits };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(text);
        },
        (err: Error) => replyText(res, { status: 500, text: `metrics failed: ${err.message}` }),
      );
      return;
    }
    const pages = opts.pages;
    if (pages && (path === pages.prefix || path.startsWith(`${pages.prefix}/`))) {
      pages.handle(req).then(
        (reply) => {
          res.writeHead(reply.status, reply.headers);
          res.end(req.method === 'HEAD' ? undefined : reply.body);
        },
        (err: Error) => replyText(res, { status: 500, text: `${path} failed: ${err.message}` }),
      );
      return;
    }
    const route = Object.hasOwn(opts.routes, path) ? opts.routes[path] : undefined;
    if (!route) {
      replyText(res, { status: 404, text: opts.notFound });
      return;
    }
    Promise.resolve(route()).then(
      (reply) => replyText(res, reply),
      (err: Error) => replyText(res, { status: 500, text: `${path} failed: ${err.message}` }),
    );
  };
  const server: Server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    handle,
  );
  server.maxConnections = limits.maxConnections;
  // A client that stops reading a response (or stops sending mid-body) is not covered by the
  // request timeouts; an idle socket is destroyed after this.
  server.setTimeout(limits.idleTimeoutMs);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
