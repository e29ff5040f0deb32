// The agent's status port, like pilot-agent's 15020: /healthz says whether a valid workload
// certificate is in place, /metrics serves the agent's Prometheus registry.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { unavailable } from '../errors.js';

export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

export async function startStatusServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  health: () => { ok: boolean; detail: string };
}): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${err.message}\n`);
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/healthz/ready') {
      const state = opts.health();
      res.writeHead(state.ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(`${state.detail}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /healthz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        unavailable(
          'AGENT_STATUS_LISTEN_FAILED',
          `cannot listen on ${opts.host}:${opts.port} for the status port (${err.message}); pick another --status-port, or "off"`,
          err,
        ),
      ),
    );
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
