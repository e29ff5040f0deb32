// Relays one HTTP/1.1 request and its response between a client and an upstream, streaming both
// bodies, dropping hop-by-hop headers, and retrying once when a pooled keep-alive socket went stale.
import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  RequestOptions,
  ServerResponse,
} from 'node:http';

// RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** `headers` without hop-by-hop fields, including those the Connection header names. */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

export interface ForwardRequestOptions {
  /** Opens the upstream request (http.request or https.request bound to the right agent and address). */
  open: (options: RequestOptions) => ClientRequest;
  /** The request headers to send upstream, already filtered and amended by the caller. */
  headers: OutgoingHttpHeaders;
  /** Answers the client when the upstream failed before its response began. */
  onUpstreamError: (err: Error) => void;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Forwards `req` upstream and pipes the answer into `res`. A request without a body that fails with
 * ECONNRESET on a reused socket is sent once more on a fresh one: the upstream closed an idle
 * keep-alive connection just as we picked it, which is not the upstream failing.
 */
export function forwardRequest(req: IncomingMessage, res: ServerResponse, opts: ForwardRequestOptions): void {
  const bodyless = !hasBody(req);
  let done = false;

  const attempt = (retry: boolean): void => {
    const upstream = opts.open({ method: req.method, path: req.url, headers: opts.headers });
    upstream.on('response', (answer) => {
      const headers = endToEndHeaders(answer.headers);
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (done) return;
      if (retry && bodyless && upstream.reusedSocket && err.code === 'ECONNRESET' && !res.headersSent) {
        attempt(false);
        return;
      }
      done = true;
      if (res.headersSent) res.destroy(err);
      else opts.onUpstreamError(err);
    });
    res.on('close', () => {
      // The client went away mid-exchange: stop the upstream side too.
      if (!res.writableFinished) upstream.destroy();
    });
    if (bodyless) upstream.end();
    else req.pipe(upstream);
  };
  attempt(true);
}
