// Starts a real meshca CA server in the test process (real gRPC over TLS on 127.0.0.1, free
// ports) and gives tests a client, tokens and captured logs.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { type CaCallError, type CaClient, createCaClient } from '../../src/agent/ca-client.js';
import type { CaMode } from '../../src/ca/certificate-authority.js';
import { makeIntermediate } from '../../src/ca/offline/make-intermediate.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_INTERMEDIATE, DEFAULT_ROOT } from '../../src/ca/offline/profile.js';
import { loadOrCreateTokenIssuer } from '../../src/identity/token-issuer.js';
import { createLogger } from '../../src/log.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { generateKey } from '../../src/pki/keys.js';
import type { KeyType } from '../../src/pki/types.js';
import { type CaServer, type CaServerOptions, startCaServer } from '../../src/server/ca-server.js';

export interface CaServerFixture {
  server: CaServer;
  dataDir: string;
  address: string;
  logs: Record<string, unknown>[];
  rootsPem(): string;
  client(opts?: {
    clientCertificate?: { certChainPem: string; keyPem: string };
    rootsPem?: string;
  }): CaClient;
  token(
    namespace: string,
    serviceAccount: string,
    opts?: { ttlSeconds?: number; audience?: string; now?: Date },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startFixtureServer(
  opts: { ca?: CaMode; dataDir?: string } & Partial<CaServerOptions> = {},
): Promise<CaServerFixture> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'meshca-server-')));
  const logs: Record<string, unknown>[] = [];
  const server = await startCaServer({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    monitoring: { host: '127.0.0.1', port: 0 },
    trustDomain: 'cluster.local',
    ca: opts.ca ?? {
      kind: 'self-signed',
      dir: join(dataDir, 'ca'),
      trustDomain: 'cluster.local',
      keyType: 'ec-p256',
    },
    ttl: { defaultSeconds: 24 * 3600, maxSeconds: 90 * 24 * 3600 },
    hosts: [],
    trustedIssuers: [],
    audiences: ['istio-ca'],
    reloadDebounceMs: 50,
    log: createLogger({
      level: 'debug',
      write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    }),
    ...opts,
  });
  const issuer = await loadOrCreateTokenIssuer(join(dataDir, 'issuer'));
  const clients: CaClient[] = [];
  const address = `127.0.0.1:${server.grpcPort}`;
  return {
    server,
    dataDir,
    address,
    logs,
    rootsPem: () => server.ca.bundle.rootsPem,
    client(clientOpts = {}) {
      const client = createCaClient({ address, rootsPem: server.ca.bundle.rootsPem, ...clientOpts });
      clients.push(client);
      return client;
    },
    token: (namespace, serviceAccount, t = {}) => issuer.mint({ namespace, serviceAccount, ...t }),
    async close() {
      for (const c of clients) c.close();
      await server.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A CSR for `spiffe://cluster.local/ns/<ns>/sa/<sa>` and the key it was made with. */
export async function workloadCsr(namespace: string, serviceAccount: string, keyType: KeyType = 'ec-p256') {
  const key = await generateKey(keyType);
  const uri = `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;
  return { key, uri, csrPem: buildWorkloadCsr({ key, uri }) };
}

/** A root + one intermediate made with `meshca certs`' own functions: returns the cluster dir. */
export async function makePluggedBundle(dir: string, cluster = 'cluster1'): Promise<string> {
  await makeRootCa({ dir, profile: DEFAULT_ROOT });
  await makeIntermediate({ rootDir: dir, cluster, profile: DEFAULT_INTERMEDIATE });
  return join(dir, cluster);
}

export const readText = (path: string) => readFile(path, 'utf8');

/**
 * `call` (a CA client call) is refused with gRPC `code` and, when given, a message matching `details`
 * (a pattern, or the text the message ends with); resolves with the error for further checks.
 */
export async function assertCallRefused(
  call: Promise<unknown>,
  code: status,
  details?: RegExp | string,
): Promise<CaCallError> {
  let caught: CaCallError | undefined;
  await assert.rejects(call, (err: CaCallError) => {
    caught = err;
    assert.equal(
      err.grpcCode,
      code,
      `expected ${status[code]}, got ${status[err.grpcCode]}: ${err.message.slice(0, 300)}`,
    );
    if (typeof details === 'string') assert.ok(err.message.endsWith(details), `message was: ${err.message}`);
    else if (details) assert.match(err.message, details);
    return true;
  });
  return caught!;
}
