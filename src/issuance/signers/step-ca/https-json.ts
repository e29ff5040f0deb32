// One JSON exchange with step-ca over HTTPS: trusts only the signer's CA bundle, bounds the whole
// exchange by a timeout and the caller's AbortSignal, and turns transport failures into MeshcaErrors.
import type { Agent, IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { caUnusable, isMeshcaError, type MeshcaError, unavailable } from '../../../errors.js';

export interface JsonAnswer {
  status: number;
  /** The parsed body, or undefined when it was empty or not JSON. */
  json: unknown;
  text: string;
}

export interface HttpsJsonOptions {
  agent: Agent;
  method: 'GET' | 'POST';
  url: string;
  /** Made afresh for each attempt, so a retried sign carries a new one-time token. */
  body?: () => Promise<string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

// A step-ca answer is a few certificates; anything far larger is not step-ca.
const MAX_BODY = 4 * 1024 * 1024;

// OpenSSL's and Node's codes for "the server's certificate is not trusted or not for this host".
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The error for a request that failed before step-ca answered: refused, reset, untrusted TLS, DNS. */
function transportError(url: string, err: NodeJS.ErrnoException): MeshcaError {
  const code = err.code ?? 'unknown';
  if (TLS_TRUST_CODES.has(code)) {
    return caUnusable(
      'RA_STEP_TLS_UNTRUSTED',
      `step-ca at ${url} presented a TLS certificate that the signer's CA bundle does not accept (${code}: ${err.message}); set the bundle to step-ca's root certificate (\`step ca root\`) and use a URL whose host is in step-ca's dnsNames`,
      err,
    );
  }
  if (code === 'ECONNREFUSED') {
    return unavailable(
      'RA_STEP_UNAVAILABLE',
      `step-ca at ${url} refused the connection (ECONNREFUSED); check that step-ca is running and listening at that address`,
      err,
    );
  }
  return unavailable(
    'RA_STEP_UNAVAILABLE',
    `could not reach step-ca at ${url} (${code}: ${err.message}); check that step-ca is running and that the URL is right`,
    err,
  );
}

/** Whether a failure on a kept-alive socket means only that the server had closed it meanwhile. */
function isStaleSocket(err: NodeJS.ErrnoException, reused: boolean): boolean {
  return reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
}

/** The error for a request the caller cancelled: the signal's own MeshcaError (the RA's deadline), else RA_STEP_ABORTED. */
export function cancelled(url: string, signal: AbortSignal): MeshcaError {
  const reason: unknown = signal.reason;
  return isMeshcaError(reason)
    ? reason
    : unavailable(
        'RA_STEP_ABORTED',
        `the request to step-ca at ${url} was cancelled before it answered`,
        reason,
      );
}

function attempt(opts: HttpsJsonOptions, body: string | undefined): Promise<JsonAnswer> {
  const { url, timeoutMs, signal } = opts;
  if (signal?.aborted) return Promise.reject(cancelled(url, signal));
  return new Promise<JsonAnswer>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, answer?: JsonAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const onAbort = () => finish(cancelled(url, signal!));
    const timer = setTimeout(
      () =>
        finish(
          unavailable(
            'RA_STEP_TIMEOUT',
            `step-ca at ${url} did not answer within ${timeoutMs} ms; check step-ca's health and load, or raise the signer's timeout`,
          ),
        ),
      timeoutMs,
    );
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = request(url, { method: opts.method, agent: opts.agent, headers }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          finish(
            caUnusable(
              'RA_STEP_BAD_RESPONSE',
              `step-ca at ${url} sent more than ${MAX_BODY} bytes; is the URL really step-ca?`,
            ),
          );
        } else chunks.push(chunk);
      });
      res.on('error', (err) => finish(transportError(url, err)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        finish(undefined, { status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (isStaleSocket(err, req.reusedSocket)) {
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(new StaleSocket());
      } else finish(transportError(url, err));
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}

class StaleSocket {}

/**
 * Sends one request and resolves with any HTTP answer (the caller judges the status); rejects with
 * `RA_STEP_TIMEOUT`, `RA_STEP_UNAVAILABLE`, `RA_STEP_TLS_UNTRUSTED`, or the signal's own MeshcaError.
 */
export async function httpsJson(opts: HttpsJsonOptions): Promise<JsonAnswer> {
  // A keep-alive socket that step-ca closed (a restart) fails at once on reuse; Node's advice is to
  // retry such a request, which is safe here because step-ca never saw it. A fresh socket is used then.
  for (let tries = 0; ; tries++) {
    try {
      return await attempt(opts, opts.body ? await opts.body() : undefined);
    } catch (err) {
      if (!(err instanceof StaleSocket)) throw err;
      if (tries >= 2) {
        throw unavailable(
          'RA_STEP_UNAVAILABLE',
          `step-ca at ${opts.url} closed the connection without answering, on ${tries + 1} attempts; check step-ca's log`,
        );
      }
    }
  }
}
