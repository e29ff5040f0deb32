// Shared setup for the sidecar tests: workload directories from a test CA, a log that tests can
// wait on, and a curl runner that reports exit codes instead of throwing.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Sidecar, startSidecar } from '../../src/proxy/sidecar.js';
import type {
  WorkloadCredentials,
  WorkloadCredentialsWatcher,
} from '../../src/proxy/workload-credentials.js';
import {
  issueWorkloadCert,
  type MeshCa,
  type WorkloadCert,
  writeWorkloadFiles,
} from '../support/mesh-certs.js';

export const SLEEP_ID = 'spiffe://cluster.local/ns/foo/sa/sleep';
export const HTTPBIN_ID = 'spiffe://cluster.local/ns/foo/sa/httpbin';

export interface Workload {
  dir: string;
  cert: WorkloadCert;
}

/** An agent output directory holding a fresh leaf for `spiffeId`. */
export async function makeWorkload(
  ca: MeshCa,
  parent: string,
  name: string,
  spiffeId: string,
): Promise<Workload> {
  const dir = join(parent, name);
  await mkdir(dir, { recursive: true });
  const cert = await issueWorkloadCert(ca, { spiffeId });
  await writeWorkloadFiles(dir, cert);
  return { dir, cert };
}

/**
 * httpbin's sidecar (STRICT, in front of `appPort`) and sleep's, whose outbound port "httpbin" reaches
 * it over mutual TLS expecting httpbin's SPIFFE ID: the two-workload mesh of the sidecar tests.
 */
export async function startSidecarPair(o: {
  server: WorkloadCredentialsWatcher;
  client: WorkloadCredentialsWatcher;
  appPort: number;
  log?: (event: object) => void;
}): Promise<{ server: Sidecar; client: Sidecar; outboundPort: number }> {
  const server = await startSidecar({
    credentials: o.server,
    inbound: { port: 0, appPort: o.appPort, mode: () => 'STRICT' },
    log: o.log,
  });
  try {
    const client = await startSidecar({
      credentials: o.client,
      outbound: [
        {
          name: 'httpbin',
          listenPort: 0,
          upstreamHost: '127.0.0.1',
          upstreamPort: server.inboundPort!,
          expectedSpiffeId: HTTPBIN_ID,
        },
      ],
      log: o.log,
    });
    return { server, client, outboundPort: client.outboundPorts['httpbin']! };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** Resolves with the credentials of the watcher's next change. */
export function nextChange(watcher: WorkloadCredentialsWatcher): Promise<WorkloadCredentials> {
  return new Promise((resolve) => {
    const off = watcher.onChange((credentials) => {
      off();
      resolve(credentials);
    });
  });
}

export interface LogCapture {
  events: Array<Record<string, unknown>>;
  log: (event: object) => void;
  /** Resolves with the first event, past or future, for which `match` holds. */
  waitFor(match: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export function captureLog(): LogCapture {
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    match: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }> = [];
  return {
    events,
    log(event) {
      const e = event as Record<string, unknown>;
      events.push(e);
      for (const waiter of [...waiters]) {
        if (waiter.match(e)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(e);
        }
      }
    },
    waitFor(match) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** curl with the flags every test wants: silent but showing errors, and a bounded wait; a non-zero exit is a result. */
export function curl(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'curl',
      ['-sS', '--max-time', '20', ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}
