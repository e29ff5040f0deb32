// The load generator: a separate Node process (pinned by the harness) that drives the servers under
// test over their real protocols and measures them; the harness sends it one command at a time.
import { type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import { type CaClient, createCaClient } from '../src/agent/ca-client.js';
import { createStepCaSigner } from '../src/issuance/signers/step-ca-signer.js';
import { parseCsr } from '../src/pki/parse-csr.js';
import type { Agent, Pools } from './lib/fixtures.js';
import { processCpuMicros, processMemoryMb, threadCpuMicros } from './lib/procs.js';
import { percentileSorted } from './lib/stats.js';

/** A server of Istio's gRPC API: meshca, or Istio's own CA (istiod's, from peers/istio-ca). */
export type GrpcTarget = { kind: 'meshca' | 'istio-ca'; port: number; rootsPem: string };
export type StepCaTarget = {
  kind: 'step-ca';
  url: string;
  rootPem: string;
  provisioner: { name: string; kid: string; password: string };
};
export type Target = GrpcTarget | { kind: 'cfssl'; port: number; caPem: string } | StepCaTarget;

export type Command =
  | { type: 'init'; poolFile: string; targets: Record<string, Target> }
  | { type: 'target'; name: string; target: Target }
  | {
      type: 'window';
      target: string;
      concurrency: number;
      /** Client connections the requests in flight are spread over (meshca; cfssl keeps one per request). */
      connections: number;
      warmupMs: number;
      durationMs: number;
      serverPid: number;
      /** Split the server's CPU between its main thread and the others (Node servers only). */
      threads?: boolean;
    }
  | {
      type: 'burst';
      target: string;
      agents: number;
      connections: number;
      deadlineMs: number;
      serverPid: number;
    }
  | {
      type: 'count';
      target: string;
      concurrency: number;
      connections: number;
      total: number;
      serverPid: number;
      samples: number;
    }
  | { type: 'exit' };

export interface WindowResult {
  certsPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  serverCpuUsPerCert: number;
  /** Cores the server kept busy during the window (CPU seconds per second). */
  serverCores: number;
  clientCpuUsPerCert: number;
  rssMb: number;
  peakRssMb: number;
  /** Server CPU per cert on its main thread and on all others; NaN unless asked for. */
  mainThreadUsPerCert: number;
  otherThreadsUsPerCert: number;
  completed: number;
  errors: number;
  firstError?: string;
  /** The window in CLOCK_MONOTONIC µs, the clock V8's profiler stamps its samples with. */
  spanUs: [number, number];
}

export interface BurstResult {
  firstMs: number;
  p50Ms: number;
  lastMs: number;
  /** Server CPU spent on the whole burst, per certificate (TLS handshakes included). */
  serverCpuUsPerCert: number;
  /** The load generator's own CPU per certificate, to show it was not the bottleneck. */
  clientCpuUsPerCert: number;
  failures: number;
  firstError?: string;
}

export interface CountResult {
  issued: number;
  failures: number;
  seconds: number;
  /** [issued so far, RSS MB] from start to end. */
  rss: [number, number][];
  peakRssMb: number;
}

/** Sends one request; `connection` picks which of the target's client connections carries it. */
type Send = (agent: Agent, connection: number) => Promise<string>;

let pools: Pools;
const senders = new Map<string, Send>();
const closers: (() => void)[] = [];

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Bound on how long a warm-up or a window may be stretched to hold a full turn of the queue. */
const MAX_WAIT_MS = 20_000;

function grpcSender(target: GrpcTarget): Send {
  // Channels (one HTTP/2 connection each) made on first use and kept across windows, as agents keep
  // their connection to the CA. A private subchannel pool per client, or grpc-js would share one
  // connection among them all.
  const clients: CaClient[] = [];
  closers.push(() => {
    for (const c of clients) c.close();
  });
  const clientFor = (i: number) => {
    while (clients.length <= i)
      clients.push(
        createCaClient({
          address: `127.0.0.1:${target.port}`,
          rootsPem: target.rootsPem,
          channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
        }),
      );
    return clients[i]!;
  };
  return async (agent, connection) => {
    const chain = await clientFor(connection).createCertificate({
      csrPem: agent.csrPem,
      token: agent.token,
      deadlineMs: 60_000,
    });
    if (chain.length < 2) throw new Error(`${target.kind} answered a chain of ${chain.length} elements`);
    return chain[0]!;
  };
}

function cfsslSender(target: Extract<Target, { kind: 'cfssl' }>): Send {
  // HTTP/1.1 keep-alive: one connection per request in flight, kept across windows like a real client's pool.
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, ca: target.caPem });
  closers.push(() => agent.destroy());
  const bodies = new Map<Agent, Buffer>();
  return (a) => {
    let body = bodies.get(a);
    if (!body) {
      body = Buffer.from(JSON.stringify({ certificate_request: a.csrPem }));
      bodies.set(a, body);
    }
    const payload = body;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: target.port,
          method: 'POST',
          path: '/api/v1/cfssl/sign',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                success?: boolean;
                result?: { certificate?: string };
                errors?: { message?: string }[];
              };
              const cert = answer.result?.certificate;
              if (res.statusCode !== 200 || !answer.success || !cert)
                reject(
                  new Error(
                    `cfssl answered ${res.statusCode}: ${answer.errors?.[0]?.message ?? 'no certificate'}`,
                  ),
                );
              else resolve(cert);
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
}

function stepCaSender(target: StepCaTarget): Send {
  // meshca's own step-ca client, as its RA mode uses it: a fresh one-time token per request (signed by
  // the JWK provisioner's key, fetched and decrypted once), POST /1.0/sign over HTTPS keep-alive (one
  // connection per request in flight). Its CPU is the load generator's, not the server's.
  const signer = createStepCaSigner({
    name: 'stepclusterissuers.certmanager.step.sm/bench',
    url: target.url,
    caBundlePem: target.rootPem,
    provisioner: { kind: 'JWK', ...target.provisioner },
  });
  closers.push(() => void signer.close());
  let requests = 0;
  return async (agent) => {
    const { chain } = await signer.sign({
      csrPem: agent.csrPem,
      spiffeId: agent.spiffeId,
      ttlSeconds: 24 * 3600,
      requestId: `bench-${++requests}`,
    });
    return chain[0]!;
  };
}

function senderFor(target: Target): Send {
  switch (target.kind) {
    case 'meshca':
    case 'istio-ca':
      return grpcSender(target);
    case 'cfssl':
      return cfsslSender(target);
    case 'step-ca':
      return stepCaSender(target);
  }
}

/** Deep check of one answer per window: a certificate for this agent's key, signed by the CA under test. */
function checkLeaf(pem: string, agent: Agent, target: Target): void {
  const leaf = new X509Certificate(pem);
  const ca = new X509Certificate(
    target.kind === 'cfssl' ? target.caPem : target.kind === 'step-ca' ? target.rootPem : target.rootsPem,
  );
  if (!leaf.verify(ca.publicKey)) throw new Error('the leaf is not signed by the CA under test');
  const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });
  if (!spki(leaf.publicKey).equals(spki(parseCsr(agent.csrPem).publicKey)))
    throw new Error("the leaf does not carry the CSR's public key");
  // Every server but cfssl puts the SPIFFE ID in the SAN; Debian's cfssl (2016) predates URI SANs and drops it.
  if (target.kind !== 'cfssl' && !leaf.subjectAltName?.includes(agent.spiffeId))
    throw new Error(`the leaf's SAN is ${leaf.subjectAltName}, not ${agent.spiffeId}`);
}

async function runWindow(cmd: Extract<Command, { type: 'window' }>): Promise<WindowResult> {
  const send = senders.get(cmd.target)!;
  const target = targets[cmd.target]!;
  const steady = pools.steady;
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  let checked = false;
  let warmedUp = 0;
  const started = performance.now();
  // Request slot i always uses connection i mod `connections`, so each connection carries an equal share.
  const worker = async (_: unknown, slot: number) => {
    const connection = slot % Math.max(1, cmd.connections);
    while (!stop) {
      const agent = steady[next++ % steady.length]!;
      const t0 = performance.now();
      try {
        const leaf = await send(agent, connection);
        warmedUp++;
        if (measuring) {
          latencies.push(performance.now() - t0);
          if (!checked) {
            checked = true;
            checkLeaf(leaf, agent, target);
          }
        }
      } catch (err) {
        if (measuring) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }
  };
  const workers = Array.from({ length: cmd.concurrency }, worker);
  // Warm up until every request in flight has come back once: a deep queue takes a while to reach
  // steady state, and a window opened before that would see a burst of completions or none at all.
  await sleep(cmd.warmupMs);
  while (warmedUp < cmd.concurrency && performance.now() - started < MAX_WAIT_MS) await sleep(10);
  const server0 = processCpuMicros(cmd.serverPid);
  const threads0 = cmd.threads ? threadCpuMicros(cmd.serverPid) : undefined;
  const client0 = process.cpuUsage();
  const mono0 = monotonicMicros();
  const t0 = performance.now();
  measuring = true;
  await sleep(cmd.durationMs);
  // A window holds at least one full turn of the queue, for the same reason.
  while (latencies.length < cmd.concurrency && performance.now() - t0 < MAX_WAIT_MS) await sleep(10);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const mono1 = monotonicMicros();
  const serverUs = processCpuMicros(cmd.serverPid) - server0;
  const threads1 = threads0 ? threadCpuMicros(cmd.serverPid) : undefined;
  const client = process.cpuUsage(client0);
  const memory = processMemoryMb(cmd.serverPid);
  stop = true;
  await Promise.all(workers);
  const completed = latencies.length;
  const sorted = Float64Array.from(latencies).sort();
  return {
    certsPerSec: completed / seconds,
    p50Ms: percentileSorted(sorted, 50),
    p95Ms: percentileSorted(sorted, 95),
    p99Ms: percentileSorted(sorted, 99),
    serverCpuUsPerCert: serverUs / completed,
    serverCores: serverUs / 1e6 / seconds,
    clientCpuUsPerCert: (client.user + client.system) / completed,
    rssMb: memory.rssMb,
    peakRssMb: memory.peakMb,
    mainThreadUsPerCert: threads0 && threads1 ? (threads1.main - threads0.main) / completed : Number.NaN,
    otherThreadsUsPerCert:
      threads0 && threads1 ? (threads1.others - threads0.others) / completed : Number.NaN,
    completed,
    errors,
    firstError,
    spanUs: [mono0, mono1],
  };
}

/**
 * A cluster restart: every agent asks at once with its own token and CSR. With one connection they
 * share a fresh HTTP/2 connection (streams bound the concurrency); otherwise each dials its own TLS.
 */
async function runBurst(cmd: Extract<Command, { type: 'burst' }>): Promise<BurstResult> {
  const target = targets[cmd.target];
  if (target?.kind !== 'meshca') throw new Error('bursts are for meshca targets');
  const agents = pools.burst.slice(0, cmd.agents);
  const clients = Array.from({ length: cmd.connections }, () =>
    createCaClient({
      address: `127.0.0.1:${target.port}`,
      rootsPem: target.rootsPem,
      // A private subchannel pool per client, or grpc-js would share one connection among them all.
      channelOptions: cmd.connections > 1 ? { 'grpc.use_local_subchannel_pool': 1 } : {},
    }),
  );
  const done: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  const server0 = processCpuMicros(cmd.serverPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    agents.map(async (agent, i) => {
      try {
        await clients[i % clients.length]!.createCertificate({
          csrPem: agent.csrPem,
          token: agent.token,
          deadlineMs: cmd.deadlineMs,
        });
        done.push(performance.now() - t0);
      } catch (err) {
        failures++;
        firstError ??= (err as Error).message;
      }
    }),
  );
  const lastMs = performance.now() - t0;
  const serverUs = processCpuMicros(cmd.serverPid) - server0;
  const client = process.cpuUsage(client0);
  for (const c of clients) c.close();
  const sorted = Float64Array.from(done).sort();
  return {
    firstMs: sorted[0] ?? Number.NaN,
    p50Ms: percentileSorted(sorted, 50),
    lastMs,
    serverCpuUsPerCert: serverUs / Math.max(1, done.length),
    clientCpuUsPerCert: (client.user + client.system) / Math.max(1, done.length),
    failures,
    firstError,
  };
}

/** `total` issuances at a fixed concurrency, sampling the server's RSS as they go. */
async function runCount(cmd: Extract<Command, { type: 'count' }>): Promise<CountResult> {
  const send = senders.get(cmd.target)!;
  const steady = pools.steady;
  const every = Math.max(1, Math.floor(cmd.total / cmd.samples));
  const rss: [number, number][] = [[0, processMemoryMb(cmd.serverPid).rssMb]];
  let started = 0;
  let issued = 0;
  let failures = 0;
  const t0 = performance.now();
  const worker = async (_: unknown, slot: number) => {
    const connection = slot % Math.max(1, cmd.connections);
    while (started < cmd.total) {
      const agent = steady[started++ % steady.length]!;
      try {
        await send(agent, connection);
        issued++;
      } catch {
        failures++;
      }
      const finished = issued + failures;
      if (finished % every === 0) rss.push([finished, processMemoryMb(cmd.serverPid).rssMb]);
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const memory = processMemoryMb(cmd.serverPid);
  if (rss.at(-1)?.[0] !== issued + failures) rss.push([issued + failures, memory.rssMb]);
  return { issued, failures, seconds, rss, peakRssMb: memory.peakMb };
}

let targets: Record<string, Target> = {};

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'init':
      pools = JSON.parse(readFileSync(cmd.poolFile, 'utf8')) as Pools;
      targets = cmd.targets;
      for (const [name, target] of Object.entries(targets)) senders.set(name, senderFor(target));
      return { ok: true };
    case 'target':
      targets[cmd.name] = cmd.target;
      senders.set(cmd.name, senderFor(cmd.target));
      return { ok: true };
    case 'window':
      return runWindow(cmd);
    case 'burst':
      return runBurst(cmd);
    case 'count':
      return runCount(cmd);
    case 'exit':
      for (const close of closers) close();
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

// Commands arrive one at a time; a harness that goes away takes this process with it.
process.on('disconnect', () => process.exit(0));
process.on('message', (msg: { id: number; cmd: Command }) => {
  handle(msg.cmd).then(
    (result) => process.send?.({ id: msg.id, result }),
    (err: Error) => process.send?.({ id: msg.id, error: err.stack ?? err.message }),
  );
});
