// The "Workloads" end-to-end setup, as an operator builds it with the CLI: a plugged-in CA made by
// `meshca certs`, `meshca serve`, httpbin behind a STRICT sidecar, and sleep's sidecar with an
// outbound port to httpbin. Plus the probes the scenarios share: HTTP through the mesh, the agents'
// /metrics, the certificate files, and `openssl s_client` as the judge of what a sidecar serves.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MeshcaProcess, runMeshcaOk, startMeshca } from './meshca-process.js';
import { openssl } from './openssl.js';
import { waitFor } from './wait-for.js';

export const NAMESPACE = 'foo';
export const HTTPBIN_ID = `spiffe://cluster.local/ns/${NAMESPACE}/sa/httpbin`;
export const SLEEP_ID = `spiffe://cluster.local/ns/${NAMESPACE}/sa/sleep`;
/** Deadline for conditions that need a renewal or two of a short-lived certificate. */
export const DEADLINE_MS = 60_000;

type LogLine = Record<string, unknown>;

/** For test/docs/readme-blocks.test.ts, until it imports waitFor from wait-for.js itself. */
export { waitFor };

/** Serials compare without leading zeros: OpenSSL pads to whole bytes, other printers may not. */
export function normalizeSerial(serial: string): string {
  return serial.trim().toUpperCase().replace(/^0+/, '');
}

/** Splits a PEM bundle into its certificates, each without a trailing newline (files differ in that). */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export interface ChainFacts {
  leafSerial: string;
  /** The second certificate of cert-chain.pem: the CA that signed the leaf. */
  intermediateSerial: string;
  leafNotAfter: Date;
  /** root-cert.pem as written, and the serials of the roots in it. */
  rootsPem: string;
  rootSerials: string[];
}

/** What the agent last wrote into `dir` (cert-chain.pem and root-cert.pem). */
export async function readChainFacts(dir: string): Promise<ChainFacts> {
  const chain = pemBlocks(await readFile(join(dir, 'cert-chain.pem'), 'utf8')).map(
    (pem) => new X509Certificate(pem),
  );
  const rootsPem = await readFile(join(dir, 'root-cert.pem'), 'utf8');
  return {
    leafSerial: normalizeSerial(chain[0]!.serialNumber),
    intermediateSerial: normalizeSerial(chain[1]!.serialNumber),
    leafNotAfter: new Date(chain[0]!.validTo),
    rootsPem,
    rootSerials: pemBlocks(rootsPem).map((pem) => normalizeSerial(new X509Certificate(pem).serialNumber)),
  };
}

/** The serial of the first certificate in a PEM file. */
export async function certSerial(path: string): Promise<string> {
  return normalizeSerial(new X509Certificate(await readFile(path, 'utf8')).serialNumber);
}

export interface WorkloadCredentialFiles {
  chainPem: string;
  keyPem: string;
  rootsPem: string;
}

/** A consistent copy of a workload's credentials: the agent may swap them between two reads. */
export function snapshotCredentials(dir: string): Promise<WorkloadCredentialFiles> {
  return waitFor(
    `a consistent certificate and key in ${dir}`,
    async () => {
      const [chainPem, keyPem, rootsPem] = await Promise.all(
        ['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(dir, f), 'utf8')),
      );
      const leaf = new X509Certificate(pemBlocks(chainPem!)[0]!);
      return leaf.checkPrivateKey(createPrivateKey(keyPem!))
        ? { chainPem: chainPem!, keyPem: keyPem!, rootsPem: rootsPem! }
        : undefined;
    },
    10_000,
  );
}

/**
 * Opens a NEW mutual-TLS connection to a sidecar's mesh port with `openssl s_client`, presenting the
 * client workload's current certificate, and returns the serial of the leaf the server presented
 * (read by `openssl x509`). The handshake must verify against `rootsFile`.
 */
export async function servedLeafSerial(port: number, clientDir: string, rootsFile: string): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'meshca-sclient-'));
  try {
    const { chainPem, keyPem } = await snapshotCredentials(clientDir);
    const certFile = join(scratch, 'cert-chain.pem');
    const keyFile = join(scratch, 'key.pem');
    await writeFile(certFile, chainPem);
    await writeFile(keyFile, keyPem, { mode: 0o600 });
    const shake = await openssl([
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-cert',
      certFile,
      '-cert_chain',
      certFile,
      '-key',
      keyFile,
      '-CAfile',
      rootsFile,
      '-verify_return_error',
    ]);
    const served = pemBlocks(shake.stdout)[0];
    if (shake.status !== 0 || !served) {
      throw new Error(`openssl s_client to 127.0.0.1:${port} failed (${shake.status}):\n${shake.stderr}`);
    }
    const servedFile = join(scratch, 'served.pem');
    await writeFile(servedFile, `${served}\n`);
    const printed = await openssl(['x509', '-noout', '-serial', '-in', servedFile]);
    const match = /^serial=([0-9A-F]+)$/m.exec(printed.stdout);
    if (printed.status !== 0 || !match) throw new Error(`openssl x509 -serial failed: ${printed.stderr}`);
    return normalizeSerial(match[1]!);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface HttpResult {
  status: number;
  body: string;
  /** Whether the client sent this request on a kept-alive connection. */
  reusedSocket: boolean;
  /** The client's port of the connection that carried the request. */
  localPort: number | undefined;
}

/**
 * GET `path` on 127.0.0.1:port: plain HTTP with an http.Agent (false opens a fresh connection), or
 * TLS when given an https.Agent.
 */
export function httpGet(
  port: number,
  path: string,
  agent: http.Agent | https.Agent | false = false,
): Promise<HttpResult> {
  const get = agent instanceof https.Agent ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          reusedSocket: req.reusedSocket,
          localPort: req.socket?.localPort,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port}${path} timed out`)));
    req.on('error', reject);
  });
}

/** The samples of `name` on a Prometheus text page, summed over every label set; undefined when it has none. */
export function metricValue(text: string, name: string): number | undefined {
  const samples = text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
  return samples.length === 0
    ? undefined
    : samples.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** A `meshca sidecar` process: the agent and the proxy of one workload. */
export interface Sidecar {
  process: MeshcaProcess;
  /** --output-dir: cert-chain.pem, key.pem, root-cert.pem. */
  dir: string;
  statusPort: number;
  inboundPort: number | undefined;
  outboundPorts: Record<string, number>;
  /** Serials of the agent's issuances so far, in order (its `issued` log lines). */
  issuedSerials(): string[];
  /** The agent's `issued` log lines so far. */
  issuedLines(): LogLine[];
  /** The proxy loaded this serial (the first set, or a rotation). */
  waitForProxyToServe(serial: string): Promise<void>;
  metrics(): Promise<string>;
  healthz(): Promise<HttpResult>;
}

function toSidecar(process: MeshcaProcess, dir: string): Sidecar {
  const issuedLines = () => process.logs.filter((l) => l.part === 'agent' && l.event === 'issued');
  return {
    process,
    dir,
    statusPort: Number(process.ready.statusPort),
    inboundPort: process.ready.inboundPort === undefined ? undefined : Number(process.ready.inboundPort),
    outboundPorts: process.ready.outboundPorts as Record<string, number>,
    issuedLines,
    issuedSerials: () => issuedLines().map((l) => normalizeSerial(String(l.serial))),
    async waitForProxyToServe(serial) {
      await process.waitForLog(
        (l) =>
          (l.event === 'credentials_rotated' || l.event === 'credentials_loaded') &&
          normalizeSerial(String(l.serial)) === normalizeSerial(serial),
        DEADLINE_MS,
      );
    },
    metrics: async () => (await httpGet(Number(process.ready.statusPort), '/metrics')).body,
    healthz: () => httpGet(Number(process.ready.statusPort), '/healthz'),
  };
}

export interface Mesh {
  /** Everything lives under this temporary directory. */
  dir: string;
  /** Where `meshca certs root-ca` ran: root-cert.pem, root-key.pem, cluster1/. */
  rootDir: string;
  /** The CA's --cacerts: `<rootDir>/cluster1`, watched by the CA. */
  cacertsDir: string;
  dataDir: string;
  /** The agents' --ca-root, re-read on every request: a copy of the root, so a test can add roots. */
  caRootFile: string;
  tokens: { sleep: string; httpbin: string };
  ca: MeshcaProcess;
  caPort: number;
  httpbinPort: number;
  httpbin: Sidecar;
  sleep: Sidecar;
  /** sleep's plaintext port that reaches httpbin over mutual TLS. */
  outboundPort: number;
  /** Starts the CA again on the same port and data directory (after a `ca.stop`). */
  restartCa(): Promise<MeshcaProcess>;
  /** Stops every process (TERM, then KILL) and removes the directory. */
  close(): Promise<void>;
}

function caArgs(mesh: { cacertsDir: string; dataDir: string }, port: number): string[] {
  return [
    'serve',
    '--cacerts',
    mesh.cacertsDir,
    '--data-dir',
    mesh.dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--monitoring',
    'off',
  ];
}

const caServing = (l: LogLine) => l.msg === 'meshca CA serving';

async function stopProcess(p: MeshcaProcess | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.stop('SIGTERM');
  clearTimeout(timer);
}

/**
 * Builds the mesh: root and cluster1 intermediate with `meshca certs`, the CA on a port it picks,
 * tokens for foo/httpbin and foo/sleep, httpbin and its STRICT sidecar, then sleep's sidecar with
 * an outbound port to httpbin that insists on httpbin's SPIFFE ID. Both agents ask for `ttl`.
 */
export async function startMesh(opts: { name: string; ttl: string }): Promise<Mesh> {
  const dir = await mkdtemp(join(tmpdir(), `meshca-e2e-${opts.name}-`));
  const started: MeshcaProcess[] = [];
  try {
    const rootDir = join(dir, 'certs');
    const cacertsDir = join(rootDir, 'cluster1');
    const dataDir = join(dir, 'data');
    await runMeshcaOk(['certs', 'root-ca', '--dir', rootDir]);
    await runMeshcaOk(['certs', 'intermediate', 'cluster1', '--dir', rootDir]);
    const caRootFile = join(dir, 'ca-roots.pem');
    await writeFile(caRootFile, await readFile(join(rootDir, 'root-cert.pem'), 'utf8'));
    const ca = await startMeshca(caArgs({ cacertsDir, dataDir }, 0), caServing);
    started.push(ca);
    const caPort = Number(String(ca.ready.grpc).split(':').pop());
    const tokens = { sleep: join(dir, 'sleep.jwt'), httpbin: join(dir, 'httpbin.jwt') };
    // The tokens come from the issuer key the CA has made in its data directory by now.
    const appStarting = startMeshca(
      ['sample', 'httpbin', '--port', '0'],
      (l) => l.msg === 'httpbin listening',
    );
    void appStarting.then(
      (p) => started.push(p),
      () => {},
    );
    await Promise.all([
      appStarting,
      ...(['sleep', 'httpbin'] as const).map(async (sa) => {
        const token = (
          await runMeshcaOk(['token', '-n', NAMESPACE, '--service-account', sa, '--data-dir', dataDir])
        ).stdout;
        await writeFile(tokens[sa], token);
      }),
    ]);
    const app = await appStarting;
    const httpbinPort = Number(app.ready.port);
    const agentArgs = (sa: 'sleep' | 'httpbin') => [
      'sidecar',
      '--ca-addr',
      `127.0.0.1:${caPort}`,
      '--ca-root',
      caRootFile,
      '--token-file',
      tokens[sa],
      '--output-dir',
      join(dir, sa),
      '--status-port',
      '0',
      '--ttl',
      opts.ttl,
      // debug: the proxy logs each credential rotation it loads (credentials_rotated)
      '--log-level',
      'debug',
    ];
    const sidecarReady = (l: LogLine) => l.msg === 'sidecar ready';
    const httpbinProcess = await startMeshca(
      [
        ...agentArgs('httpbin'),
        '--inbound-port',
        '0',
        '--app-port',
        String(httpbinPort),
        '--mtls-mode',
        'STRICT',
      ],
      sidecarReady,
      { timeoutMs: DEADLINE_MS },
    );
    started.push(httpbinProcess);
    const httpbin = toSidecar(httpbinProcess, join(dir, 'httpbin'));
    const sleepProcess = await startMeshca(
      [...agentArgs('sleep'), '--outbound', `httpbin=0:127.0.0.1:${httpbin.inboundPort}:${HTTPBIN_ID}`],
      sidecarReady,
      { timeoutMs: DEADLINE_MS },
    );
    started.push(sleepProcess);
    const sleep = toSidecar(sleepProcess, join(dir, 'sleep'));
    const mesh: Mesh = {
      dir,
      rootDir,
      cacertsDir,
      dataDir,
      caRootFile,
      tokens,
      ca,
      caPort,
      httpbinPort,
      httpbin,
      sleep,
      outboundPort: sleep.outboundPorts.httpbin!,
      async restartCa() {
        // The port was the old process's; should something else still hold it, start again once it is free.
        mesh.ca = await waitFor(
          `the CA to start again on 127.0.0.1:${caPort}`,
          async () => {
            try {
              return await startMeshca(caArgs(mesh, caPort), caServing);
            } catch (err) {
              if (/EADDRINUSE|address already in use/i.test((err as Error).message)) return undefined;
              throw err;
            }
          },
          10_000,
        );
        started.push(mesh.ca);
        return mesh.ca;
      },
      async close() {
        // The sidecars first: they would otherwise log the CA and httpbin going away.
        await Promise.all([stopProcess(sleepProcess), stopProcess(httpbinProcess)]);
        await Promise.all(started.map(stopProcess));
        await rm(dir, { recursive: true, force: true });
      },
    };
    return mesh;
  } catch (err) {
    await Promise.all(started.map(stopProcess));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
