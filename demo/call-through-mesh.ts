// One HTTP request as the demo's "sleep" makes it (curl in Istio's sample), reporting a refused
// connection as a result rather than an exception, since refusals are what some checks expect.
import { fetchThrough } from './samples/sleep.js';

export interface CallResult {
  /** Undefined when no HTTP response came back. */
  status: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Why no response came back, e.g. "socket hang up (ECONNRESET)". */
  error: string | undefined;
}

const failed = (error: string): CallResult => ({ status: undefined, headers: {}, body: '', error });

/** GET http://127.0.0.1:`port``path`, giving up after `timeoutMs`. */
export async function callThrough(port: number, path: string, timeoutMs = 10_000): Promise<CallResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CallResult>((resolve) => {
    timer = setTimeout(() => resolve(failed(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const call = fetchThrough(port, path).then(
    (r): CallResult => ({ status: r.status, headers: r.headers, body: r.body, error: undefined }),
    (err: NodeJS.ErrnoException) => failed(err.code ? `${err.message} (${err.code})` : err.message),
  );
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
