// A small plain-HTTP server for an operator's port: Prometheus /metrics from a registry, plus a few
// text endpoints (health, readiness). A leaf module: the agent's status port and the CA's monitoring
// port both use it, and it imports nothing of meshca.
import { createServer, type Server, type ServerResponse } from 'node:http';
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

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Served at /metrics. */
  registry: MetricsSource;
  /** Path (without query) → its answer, computed per request (a cluster primary asks its workers). */
  routes: Readonly<Record<string, () => TextReply | Promise<TextReply>>>;
  /** The body of a 404: which paths to try. */
  notFound: string;
}

function replyText(res: ServerResponse, { status, text }: TextReply): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`${text}\n`);
}

/** Listens on host:port; rejects with the listen error (the caller says what to do about it). */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
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
    const route = Object.hasOwn(opts.routes, path) ? opts.routes[path] : undefined;
    if (!route) {
      replyText(res, { status: 404, text: opts.notFound });
      return;
    }
    Promise.resolve(route()).then(
      (reply) => replyText(res, reply),
      (err: Error) => replyText(res, { status: 500, text: `${path} failed: ${err.message}` }),
    );
  });
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
