// The phases after the interleaved windows: memory over many issuances, cluster-restart bursts,
// and a short CPU profile of the server. Each drives the load generator and returns its results.
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BurstResult, Command, CountResult, WindowResult } from '../loadgen.js';
import type { CaFixture } from './fixtures.js';
import type { Helper } from './ipc.js';
import { stopChild } from './procs.js';
import { summarizeProfile } from './profile.js';
import { connectionsFor, fmt, type Results } from './results.js';
import { REPO, type RunningServer, startMeshca } from './servers.js';
import { summarize } from './stats.js';

type Progress = (msg: string) => void;

/**
 * `total` issuances on a warmed-up server, RSS sampled 50 times on the way. V8's heap makes RSS a
 * sawtooth (it climbs until a major GC), so growth is judged on the peaks and on the troughs of the
 * second half against the first: a leak lifts both, the sawtooth alone neither.
 */
export async function measureMemory(
  loadgen: Helper<Command>,
  server: RunningServer,
  total: number,
  concurrency: number,
  progress: Progress,
): Promise<NonNullable<Results['memory']>> {
  progress(`memory: ${fmt(total)} issuances at ${concurrency} in flight…`);
  const count = await loadgen.call<CountResult>({
    type: 'count',
    target: server.name,
    concurrency,
    connections: connectionsFor(concurrency),
    total,
    serverPid: server.pid,
    samples: 50,
  });
  const mb = count.rss.map(([, v]) => v);
  const half = Math.floor(mb.length / 2);
  const [first, second] = [mb.slice(0, half), mb.slice(half)];
  return {
    ...count,
    concurrency,
    beforeMb: mb[0]!,
    afterMb: mb.at(-1)!,
    peakGrowthMb: Math.max(...second) - Math.max(...first),
    troughGrowthMb: Math.min(...second) - Math.min(...first),
  };
}

/**
 * A cluster restart: `agents` distinct agents ask at once, over one shared connection and with one
 * TLS connection each, the two kinds interleaved run by run.
 */
export async function measureBursts(
  loadgen: Helper<Command>,
  server: RunningServer,
  agents: number,
  runs: number,
  progress: Progress,
): Promise<Results['burst']> {
  const kinds = [
    { name: `${fmt(agents)} agents at once, one shared HTTP/2 connection`, connections: 1 },
    { name: `${fmt(agents)} agents at once, one TLS connection each`, connections: agents },
  ];
  const results = new Map<string, BurstResult[]>();
  for (let run = 0; run < runs; run++) {
    for (const kind of kinds) {
      progress(`burst ${run + 1}/${runs} · ${kind.name}`);
      const result = await loadgen.call<BurstResult>({
        type: 'burst',
        target: server.name,
        agents,
        connections: kind.connections,
        deadlineMs: 60_000,
        serverPid: server.pid,
      });
      results.set(kind.name, [...(results.get(kind.name) ?? []), result]);
      await new Promise((r) => setTimeout(r, 300)); // let closed connections wind down first
    }
  }
  return kinds.map((kind) => {
    const list = results.get(kind.name) ?? [];
    const of = (pick: (r: BurstResult) => number) => summarize(list.map(pick));
    return {
      name: kind.name,
      connections: kind.connections,
      agents,
      firstMs: of((r) => r.firstMs),
      p50Ms: of((r) => r.p50Ms),
      lastMs: of((r) => r.lastMs),
      serverCpuUsPerCert: of((r) => r.serverCpuUsPerCert),
      clientCpuUsPerCert: of((r) => r.clientCpuUsPerCert),
      failures: list.reduce((n, r) => n + r.failures, 0),
      firstError: list.find((r) => r.firstError)?.firstError,
    };
  });
}

/**
 * Profiles a separate meshca (profiling slows it, so it is never a measured server) under steady
 * load with `node --cpu-prof`, and summarizes the main thread's samples taken during the window.
 */
export async function profileServer(opts: {
  loadgen: Helper<Command>;
  ca: CaFixture;
  work: string;
  durationMs: number;
  concurrency: number;
  progress: Progress;
}): Promise<Results['profile']> {
  const { loadgen, ca, work } = opts;
  opts.progress(
    `profiling meshca (node --cpu-prof) for ${opts.durationMs / 1000} s at ${opts.concurrency} in flight…`,
  );
  const profDir = join(work, 'cpu-prof');
  const server = await startMeshca({
    name: 'meshca-ec-p256-prof',
    ca,
    cpus: '0',
    work,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir],
  });
  await loadgen.call({
    type: 'target',
    name: server.name,
    target: { kind: 'meshca', port: server.port, rootsPem: ca.certPem },
  });
  const window = await loadgen.call<WindowResult>({
    type: 'window',
    target: server.name,
    concurrency: opts.concurrency,
    connections: connectionsFor(opts.concurrency),
    warmupMs: 500,
    durationMs: opts.durationMs,
    serverPid: server.pid,
  });
  // SIGTERM drains and exits normally, which is when V8 writes the profile.
  await stopChild(server.child, 15_000);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return undefined;
  const outDir = join(REPO, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  // Kept for a closer look: Chrome DevTools and speedscope open it.
  copyFileSync(join(profDir, file), join(outDir, 'latest.cpuprofile'));
  chmodSync(join(outDir, 'latest.cpuprofile'), 0o644); // V8 writes it 0600; nothing secret in it
  return {
    ...summarizeProfile(join(profDir, file), window.spanUs),
    concurrency: opts.concurrency,
    seconds: (window.spanUs[1] - window.spanUs[0]) / 1e6,
  };
}
