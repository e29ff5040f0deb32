// `npm run bench`: measures meshca against the crypto floor and against the CAs users would otherwise
// run (Istio's own, cfssl, step-ca) on this machine, every variant interleaved in one run, and writes
// bench/results/latest.{json,md}. `--quick` for a smoke run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { measureHostileInputs } from './hostile-inputs.js';
import { type CaFixture, makeCa, makeIssuer, makePools, writeCfsslConfig } from './lib/fixtures.js';
import { startHelper } from './lib/ipc.js';
import { distIsStale, machineInfo } from './lib/machine.js';
import { measureBursts, measureMemory, profileServer } from './lib/phases.js';
import { installExitHandlers, onCleanup, repin, stopChild } from './lib/procs.js';
import { publish } from './lib/report.js';
import {
  connectionsFor,
  type E2eVariant,
  type Results,
  type ServerKind,
  type Stats,
  speaksGrpc,
} from './lib/results.js';
import {
  distIsBuilt,
  ensureCfssl,
  ensureGoPeer,
  REPO,
  type RunningServer,
  startCfssl,
  startIstioCa,
  startMeshca,
  startStepCaServer,
} from './lib/servers.js';
import { startSoftHsmServers } from './lib/softhsm-rows.js';
import { summarizeNumbers } from './lib/stats.js';
import type { Command, Target, WindowResult } from './loadgen.js';
import type { MicroCommand, MicroResult } from './micro.js';

const HELP = `usage: npm run bench [-- --quick] [-- --no-profile | --profile] [-- --windows N] [-- --window-ms MS]
  --quick        a few minutes: 3 short windows, 10,000 issuances for the memory figure
  --no-profile   skip the short node --cpu-prof run of the server (on by default, off with --quick)
  --render       measure nothing: judge and print bench/results/latest.json again`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}
if (args.includes('--render')) {
  const dir = join(REPO, 'bench', 'results');
  console.log(publish(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as Results, dir));
  process.exit(0);
}
const quick = args.includes('--quick');
const numberArg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const cfg = {
  windows: numberArg('--windows') ?? (quick ? 3 : 5),
  windowMs: numberArg('--window-ms') ?? (quick ? 300 : 2000),
  warmupMs: quick ? 150 : 400,
  microMs: quick ? 200 : 800,
  levels: [1, 16, 64, 256],
  memoryTotal: quick ? 10_000 : 100_000,
  memoryConcurrency: 64,
  burstAgents: 2000,
  burstRuns: quick ? 1 : 5,
  profile: args.includes('--profile') || (!quick && !args.includes('--no-profile')),
  profileMs: quick ? 2000 : 5000,
  steadyPool: 256,
  primeTotal: quick ? 2000 : 4000,
  /** Requests in flight for the scale figure (one core vs two). */
  scaleInFlight: 64,
};

const started = performance.now();
const isTty = process.stderr.isTTY;
function progress(msg: string): void {
  const s = Math.round((performance.now() - started) / 1000);
  const line = `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${msg}`;
  process.stderr.write(isTty ? `\r\x1b[K${line.slice(0, (process.stderr.columns || 120) - 1)}` : `${line}\n`);
}
const done = (msg: string) => process.stderr.write(isTty ? `\r\x1b[K${msg}\n` : `${msg}\n`);

installExitHandlers();

// ---------------------------------------------------------------------------------------------- setup
if (!distIsBuilt()) {
  progress('dist/ is missing: building (npm run build)…');
  execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
}
const meta: Record<string, unknown> = {
  ...machineInfo(),
  quick,
  windows: cfg.windows,
  windowMs: cfg.windowMs,
  warmupMs: cfg.warmupMs,
  microWindowMs: cfg.microMs,
  distStale: distIsStale(),
};
if (meta.distStale)
  done(
    'warning: src/ is newer than dist/: the server under test may not be the current code (npm run build)',
  );
const cfssl = ensureCfssl(progress);
meta.cfssl = cfssl.ok ? cfssl.version : `unavailable: ${cfssl.reason}`;
if (!cfssl.ok) done(`cfssl unavailable: ${cfssl.reason} (continuing without the peer)`);
const istioCa = ensureGoPeer('istio-ca', progress);
const stepCa = ensureGoPeer('step-ca', progress);
meta.istioCa = istioCa.ok ? `istio.io/istio ${istioCa.version}` : `unavailable: ${istioCa.reason}`;
meta.stepCa = stepCa.ok ? `step-ca ${stepCa.version}` : `unavailable: ${stepCa.reason}`;
for (const [name, peer] of [
  ["Istio's CA", istioCa],
  ['step-ca', stepCa],
] as const)
  if (!peer.ok) done(`${name} unavailable: ${peer.reason} (continuing without the peer)`);

const work = mkdtempSync(join(tmpdir(), 'meshca-bench-'));
onCleanup(() => rmSync(work, { recursive: true, force: true }));
progress('making CAs, keys, CSRs and tokens…');
const { dir: issuerDir, issuer } = await makeIssuer(work);
const cas: Record<string, CaFixture> = {
  'ec-p256': await makeCa(work, 'ca-ec', 'ec-p256', issuerDir),
  'rsa-2048': await makeCa(work, 'ca-rsa', 'rsa-2048', issuerDir),
};
const pools = await makePools(issuer, cfg.steadyPool, cfg.burstAgents);
const poolFile = join(work, 'pools.json');
writeFileSync(poolFile, JSON.stringify(pools));
const cfsslConfig = writeCfsslConfig(work);

progress('starting servers…');
const servers: Record<string, RunningServer> = {};
const targets: Record<string, Target> = {};
for (const [ca, fixture] of Object.entries(cas)) {
  const s = await startMeshca({ name: `meshca-${ca}`, ca: fixture, cpus: '0', work });
  servers[s.name] = s;
  targets[s.name] = { kind: 'meshca', port: s.port, rootsPem: fixture.certPem };
}
{
  // The issuance log's cost: the same server with the log off, measured in the same rounds.
  const s = await startMeshca({
    name: 'meshca-ec-p256-nolog',
    ca: cas['ec-p256']!,
    cpus: '0',
    work,
    issuanceLog: false,
  });
  servers[s.name] = s;
  targets[s.name] = { kind: 'meshca', port: s.port, rootsPem: cas['ec-p256']!.certPem };
}
{
  // The scale figure's server: `--workers 2`, free to use both cores from the start (its workers
  // inherit the affinity the primary starts with).
  const s = await startMeshca({
    name: 'meshca-ec-p256-2workers',
    ca: cas['ec-p256']!,
    cpus: null,
    work,
    workers: 2,
  });
  servers[s.name] = s;
  targets[s.name] = { kind: 'meshca', port: s.port, rootsPem: cas['ec-p256']!.certPem };
}
if (cfssl.ok) {
  const cfsslServers: [string, string, string | null][] = [
    ['cfssl-ec-p256', 'ec-p256', '0'],
    ['cfssl-rsa-2048', 'rsa-2048', '0'],
    // Go sizes GOMAXPROCS from the affinity it starts with, so the 2-core cfssl is its own process.
    ['cfssl-ec-p256-2cores', 'ec-p256', null],
  ];
  for (const [name, ca, cpus] of cfsslServers) {
    const s = await startCfssl({ name, ca: cas[ca]!, cpus, work, configFile: cfsslConfig });
    servers[name] = s;
    targets[name] = { kind: 'cfssl', port: s.port, caPem: cas[ca]!.certPem };
  }
}
// Istio's CA and step-ca sign with the very same CA key and certificate, pinned like the others.
for (const [ca, fixture] of Object.entries(cas)) {
  if (istioCa.ok) {
    const s = await startIstioCa({ name: `istio-ca-${ca}`, bin: istioCa.bin!, ca: fixture, cpus: '0', work });
    servers[s.name] = s;
    targets[s.name] = { kind: 'istio-ca', port: s.port, rootsPem: fixture.certPem };
  }
  if (stepCa.ok) {
    const s = await startStepCaServer({
      name: `step-ca-${ca}`,
      bin: stepCa.bin!,
      ca: fixture,
      cpus: '0',
      work,
    });
    servers[s.name] = s;
    targets[s.name] = { kind: 'step-ca', url: s.url, rootPem: s.rootPem, provisioner: s.provisioner };
  }
}
// The same issuance with the CA key in a SoftHSM2 token (EC P-256, RSA-2048): rows beside the file keys'.
const softhsm = await startSoftHsmServers({ work, issuerDir, servers, targets });
meta.softhsm2 = softhsm.unavailable
  ? `unavailable: ${softhsm.unavailable}`
  : 'rows with the CA key in SoftHSM2';
const loadgen = startHelper<Command>(join(REPO, 'bench', 'loadgen.ts'), '1', REPO);
const micro = startHelper<MicroCommand>(join(REPO, 'bench', 'micro.ts'), '0', REPO);
await loadgen.call({ type: 'init', poolFile, targets });
await micro.call({
  type: 'init',
  poolFile,
  cas: Object.values(cas).map((c) => ({ keyType: c.keyType, dataDir: c.dataDir })),
});
// Every meshca process starts cold (JIT, a token cache per worker): a burst of issuances first, as
// the warm-up round alone is short for the --workers 2 server, which only the scale figure uses.
for (const server of Object.values(servers).filter((s) => s.name.startsWith('meshca'))) {
  progress(`priming ${server.name}…`);
  await loadgen.call({
    type: 'count',
    target: server.name,
    concurrency: 64,
    connections: connectionsFor(64),
    total: cfg.primeTotal,
    serverPid: server.pid,
    samples: 1,
  });
}

// ------------------------------------------------------------------------------------------- variants
interface Variant {
  key: string;
  run(durationMs: number, warmupMs: number): Promise<Record<string, number>>;
}
const microVariants = [
  'floor-ec-p256',
  'inproc-ec-p256',
  'inproc-token-ec-p256',
  'floor-rsa-2048',
  'inproc-rsa-2048',
];
const variants: Variant[] = microVariants.map((key) => ({
  key,
  // The micro runner gets a window of its own length; its warm-up is the unrecorded first round.
  run: () => micro.call<MicroResult>({ type: 'window', variant: key, durationMs: cfg.microMs }) as never,
}));
const e2eMeta: Omit<E2eVariant, 'stats' | 'errors'>[] = [];
// gRPC clients spread their requests over up to 8 HTTP/2 connections; HTTPS/1.1 clients keep one
// connection per request in flight.
const connections = (server: ServerKind, inFlight: number) =>
  speaksGrpc(server) ? connectionsFor(inFlight) : inFlight;
for (const server of ['meshca', 'istio-ca', 'cfssl', 'step-ca'] as const) {
  for (const ca of Object.keys(cas)) {
    for (const concurrency of cfg.levels) {
      const name = `${server}-${ca}`;
      if (servers[name])
        e2eMeta.push({
          key: `${name}@${concurrency}`,
          server,
          ca,
          concurrency,
          connections: connections(server, concurrency),
          workers: 1,
          cores: 'pinned',
        });
    }
  }
}
e2eMeta.push(...softhsm.variants(cfg.levels, (inFlight) => connections('meshca', inFlight)));
for (const concurrency of cfg.levels)
  e2eMeta.push({
    key: `meshca-ec-p256@${concurrency}/nolog`,
    server: 'meshca',
    ca: 'ec-p256',
    concurrency,
    connections: connections('meshca', concurrency),
    workers: 1,
    cores: 'pinned',
    issuanceLog: false,
  });
// Two cores: meshca --workers 2 on both; for reference the one-worker meshca moved onto both cores
// (still one event loop); cfssl's separate 2-core process. The load generator shares both cores.
const shared = (server: 'meshca' | 'cfssl', workers: number) => ({
  key: `${server}-ec-p256@${cfg.scaleInFlight}/2cores${workers > 1 ? `/${workers}workers` : ''}`,
  server,
  ca: 'ec-p256',
  concurrency: cfg.scaleInFlight,
  connections: connections(server, cfg.scaleInFlight),
  workers,
  cores: 'shared' as const,
});
e2eMeta.push(shared('meshca', 2), shared('meshca', 1));
if (servers['cfssl-ec-p256-2cores']) e2eMeta.push(shared('cfssl', 1));

function serverFor(v: Omit<E2eVariant, 'stats' | 'errors'>): RunningServer {
  if (v.workers > 1) return servers[`${v.server}-${v.ca}-${v.workers}workers`]!;
  if (v.issuanceLog === false) return servers[`${v.server}-${v.ca}-nolog`]!;
  const name = `${v.server}-${v.ca}${v.cores === 'shared' && v.server === 'cfssl' ? '-2cores' : ''}`;
  return servers[name]!;
}

for (const v of e2eMeta) {
  variants.push({
    key: v.key,
    async run(durationMs, warmupMs) {
      const server = serverFor(v);
      const shared = v.cores === 'shared';
      // Only the pinned one-worker meshca moves; cfssl's and the multi-worker server run unpinned.
      const moves = shared && v.server === 'meshca' && v.workers === 1;
      if (moves) repin(server.pid, '0,1');
      if (shared) repin(loadgen.pid, '0,1');
      try {
        return (await loadgen.call<WindowResult>({
          type: 'window',
          target: server.name,
          concurrency: v.concurrency,
          connections: v.connections,
          warmupMs,
          durationMs,
          serverPid: server.pid,
          threads: v.server === 'meshca',
        })) as never;
      } finally {
        if (moves) repin(server.pid, '0');
        if (shared) repin(loadgen.pid, '1');
      }
    },
  });
}

// ------------------------------------------------------------------------------------------ measuring
const windows = new Map<string, Record<string, number>[]>();
const errors = new Map<string, { count: number; first?: string }>();
const rounds = cfg.windows + 1; // round 0 warms every variant up (JIT, connections) and is not recorded
for (let round = 0; round < rounds; round++) {
  // Rotating the start spreads slow drifts (thermal, neighbours) evenly over the variants.
  const order = variants.map((_, i) => variants[(i + round * 3) % variants.length]!);
  for (const [i, v] of order.entries()) {
    const label = round === 0 ? 'warm-up' : `round ${round}/${cfg.windows}`;
    progress(`${label} · ${i + 1}/${order.length} ${v.key}`);
    const result = await v.run(round === 0 ? Math.min(cfg.windowMs, 1000) : cfg.windowMs, cfg.warmupMs);
    if (round === 0) continue;
    windows.set(v.key, [...(windows.get(v.key) ?? []), result]);
    const w = result as unknown as WindowResult;
    if (w.errors) {
      const e = errors.get(v.key) ?? { count: 0 };
      errors.set(v.key, { count: e.count + w.errors, first: e.first ?? w.firstError });
    }
  }
}

const microStats: Results['micro'] = {};
for (const key of microVariants) {
  microStats[key] = summarizeNumbers(windows.get(key) ?? []) as Stats<MicroResult>;
}
const e2e: E2eVariant[] = e2eMeta.map((v) => ({
  ...v,
  stats: summarizeNumbers(windows.get(v.key) ?? []) as Stats<WindowResult>,
  errors: errors.get(v.key)?.count ?? 0,
  firstError: errors.get(v.key)?.first,
}));

const ecServer = servers['meshca-ec-p256']!;
const memory = await measureMemory(loadgen, ecServer, cfg.memoryTotal, cfg.memoryConcurrency, progress);
const burst = await measureBursts(loadgen, ecServer, cfg.burstAgents, cfg.burstRuns, progress);
const profile = cfg.profile
  ? await profileServer({
      loadgen,
      ca: cas['ec-p256']!,
      work,
      durationMs: cfg.profileMs,
      concurrency: 64,
      progress,
    })
  : undefined;

progress('hostile inputs…');
const hostileInputs = measureHostileInputs(quick ? 5 : 20);

// ------------------------------------------------------------------------------------------ teardown
progress('stopping…');
await loadgen.call({ type: 'exit' }).catch(() => {});
await micro.call({ type: 'exit' }).catch(() => {});
await Promise.all(Object.values(servers).map((s) => stopChild(s.child)));

const results: Results = {
  meta: { ...meta, seconds: Math.round((performance.now() - started) / 1000) },
  micro: microStats,
  e2e,
  burst,
  memory,
  profile,
  hostileInputs,
  cfssl: { available: cfssl.ok, reason: cfssl.reason },
  peers: {
    'istio-ca': { available: istioCa.ok, version: istioCa.version, reason: istioCa.reason },
    'step-ca': { available: stepCa.ok, version: stepCa.version, reason: stepCa.reason },
  },
  derived: {},
  targets: [],
};
const markdown = publish(results, join(REPO, 'bench', 'results'));
done(`done in ${results.meta.seconds} s: bench/results/latest.json, bench/results/latest.md`);
console.log(`\n${markdown}`);
process.exit(0);
