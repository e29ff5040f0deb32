// A small stand-in for the httpbin image of Istio's demos: enough endpoints to show that a request
// crossed the mesh (/html) and what the sidecar told the app about the caller (/headers).
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { unavailable } from '../../src/index.js';
import { MOBY_DICK_HTML } from './moby-dick.js';

export interface Httpbin {
  readonly port: number;
  close(): Promise<void>;
}

/** httpbin writes header names in canonical form (`X-Forwarded-Client-Cert`), Node lower-cases them. */
function canonicalName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[canonicalName(name)] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

function originOf(req: http.IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://httpbin');
  const status = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (url.pathname === '/html') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(MOBY_DICK_HTML),
    });
    res.end(MOBY_DICK_HTML);
  } else if (url.pathname === '/headers') {
    sendJson(res, 200, { headers: headersOf(req) });
  } else if (url.pathname === '/ip') {
    sendJson(res, 200, { origin: originOf(req) });
  } else if (url.pathname === '/get') {
    sendJson(res, 200, {
      args: Object.fromEntries(url.searchParams),
      headers: headersOf(req),
      origin: originOf(req),
      url: `http://${req.headers.host ?? 'httpbin'}${url.pathname}${url.search}`,
    });
  } else if (status && Number(status[1]) >= 100 && Number(status[1]) <= 599) {
    res.writeHead(Number(status[1]), { 'content-length': 0 });
    res.end();
  } else {
    sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
  }
}

/** Starts httpbin on `host:port` (default 127.0.0.1; port 0 picks a free one). */
export async function startHttpbin(opts: { port: number; host?: string }): Promise<Httpbin> {
  const server = http.createServer(handle);
  const host = opts.host ?? '127.0.0.1';
  try {
    await once(server.listen(opts.port, host), 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw unavailable(
      'PROXY_LISTEN_FAILED',
      `httpbin: cannot listen on ${host}:${opts.port} (${code}); choose a free port or stop the process holding it`,
      err,
    );
  }
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
