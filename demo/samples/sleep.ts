// The client half of Istio's demo (the "sleep" pod that runs curl): one request through the local
// sidecar's plaintext outbound port, body and all.
import http from 'node:http';

export interface FetchResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET `path` from 127.0.0.1:`port` on a fresh connection, as one curl invocation would. */
export function fetchThrough(
  port: number,
  path: string,
  opts: { headers?: http.OutgoingHttpHeaders; host?: string } = {},
): Promise<FetchResult> {
  return new Promise<FetchResult>((resolve, reject) => {
    const req = http.get(
      { host: opts.host ?? '127.0.0.1', port, path, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
  });
}
