// Before/after figures for hot-path changes: `meshca serve` builds (this tree's, and copies of older
// ones given with --build NAME=DIR) pinned to core 0, issuance log on and off, under the bench's load
// generator on core 1, windows interleaved round by round; and, with --cpu-prof, where this tree's
// server spends its main thread's time. Server CPU per certificate comes from /proc, all threads.
//   node --import tsx bench/profile-serve.ts [--build before=/tmp/before] [--node-args NAME=FLAGS] [--rounds 5]
//        [--window-ms 2000] [--in-flight 64] [--cpu-prof] [--log on|off|both]
// A build directory holds bin/, dist/, proto/ and package.json (and node_modules or a parent's).
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, makeIssuer, makePools } from './lib/fixtures.js';
import { startHelper } from './lib/ipc.js';
import { installExitHandlers, onCleanup, spawnPinned, stopChild, waitForFileLine } from './lib/procs.js';
import { summarizeProfile } from './lib/profile.js';
import { connectionsFor } from './lib/results.js';
import { REPO } from './lib/servers.js';
import { summarize } from './lib/stats.js';
import type { Command, WindowResult } from './loadgen.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const builds: Record<string, { dir: string; nodeArgs: string[] }> = { current: { dir: REPO, nodeArgs: [] } };
for (const [i, a] of args.entries()) {
  const [name, value] = String(args[i + 1]).split(/=(.*)/s);
  if (a === '--build') builds[name!] = { dir: value!, nodeArgs: [] };
  // This tree's build under other node flags, e.g. --node-args semi64='--max-semi-space-size=64'.
  if (a === '--node-args') builds[name!] = { dir: REPO, nodeArgs: value!.split(' ').filter(Boolean) };
}
const rounds = Number(option('--rounds') ?? 5);
const windowMs = Number(option('--window-ms') ?? 2000);
const inFlight = Number(option('--in-flight') ?? 64);
const logModes = { on: [true], off: [false], both: [true, false] }[option('--log') ?? 'both'] ?? [
  true,
  false,
];

installExitHandlers();
const work = mkdtempSync(join(tmpdir(), 'meshca-profile-'));
onCleanup(() => rmSync(work, { recursive: true, force: true }));
const { dir: issuerDir, issuer } = await makeIssuer(work);
const ca = await makeCa(work, 'ca-ec', 'ec-p256', issuerDir);
const poolFile = join(work, 'pools.json');
writeFileSync(poolFile, JSON.stringify(await makePools(issuer, 256, 0)));

async function startServer(name: string, buildDir: string, log: boolean, nodeArgs: string[] = []) {
  const logFile = join(work, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawnPinned(
    '0',
    process.execPath,
    [
      ...nodeArgs,
      join(buildDir, 'bin', 'meshca.js'),
      'serve',
      ...['--listen', '127.0.0.1:0', '--monitoring', 'off', '--data-dir', ca.dataDir],
      ...(log ? ['--issuance-log-dir', join(work, `${name}-issuance-log`)] : ['--issuance-log', 'off']),
    ],
    { cwd: work, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const port = await waitForFileLine(
    logFile,
    (line) =>
      line.includes('meshca CA serving')
        ? Number(
            String((JSON.parse(line) as { grpc?: string }).grpc)
              .split(':')
              .pop(),
          )
        : undefined,
    30_000,
    child,
  );
  return { name, child, pid: child.pid!, port };
}

const loadgen = startHelper<Command>(join(REPO, 'bench', 'loadgen.ts'), '1', REPO);
await loadgen.call({ type: 'init', poolFile, targets: {} });
const servers: Awaited<ReturnType<typeof startServer>>[] = [];
for (const [build, { dir, nodeArgs }] of Object.entries(builds))
  for (const log of logModes)
    servers.push(await startServer(`${build}-log-${log ? 'on' : 'off'}`, dir, log, nodeArgs));

const windowOn = (server: (typeof servers)[number], durationMs: number, warmupMs: number) =>
  loadgen.call<WindowResult>({
    type: 'window',
    target: server.name,
    concurrency: inFlight,
    connections: connectionsFor(inFlight),
    warmupMs,
    durationMs,
    serverPid: server.pid,
    threads: true,
  });
for (const server of servers) {
  await loadgen.call({
    type: 'target',
    name: server.name,
    target: { kind: 'meshca', port: server.port, rootsPem: ca.certPem },
  });
  await loadgen.call({
    type: 'count',
    target: server.name,
    concurrency: inFlight,
    connections: connectionsFor(inFlight),
    total: 3000,
    serverPid: server.pid,
    samples: 1,
  });
}

const results = new Map<string, WindowResult[]>();
for (let round = 0; round < rounds; round++) {
  // Rotate the start of each round so drift and neighbours spread over every server alike.
  const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
  for (const server of order) {
    const r = await windowOn(server, windowMs, 300);
    if (r.errors > 0) throw new Error(`${server.name}: ${r.errors} errors (${r.firstError})`);
    results.set(server.name, [...(results.get(server.name) ?? []), r]);
  }
  process.stderr.write(`round ${round + 1}/${rounds}\n`);
}
const fmt = (s: { median: number; min: number; max: number }, digits = 0) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
console.log(
  `\n${inFlight} in flight, ${rounds} windows of ${windowMs} ms each, median (min–max); server pinned to core 0\n`,
);
console.log('| server | CPU µs/cert | main thread µs | other threads µs | p99 ms | certs/s | peak RSS MB |');
console.log('|---|---|---|---|---|---|---|');
for (const server of servers) {
  const list = results.get(server.name)!;
  const of = (pick: (r: WindowResult) => number) => summarize(list.map(pick));
  console.log(
    `| ${server.name} | ${fmt(of((r) => r.serverCpuUsPerCert))} | ${fmt(of((r) => r.mainThreadUsPerCert))} | ${fmt(of((r) => r.otherThreadsUsPerCert))} | ${fmt(
      of((r) => r.p99Ms),
      2,
    )} | ${fmt(of((r) => r.certsPerSec))} | ${Math.max(...list.map((r) => r.peakRssMb)).toFixed(0)} |`,
  );
}
for (const server of servers) await stopChild(server.child, 15_000);

if (args.includes('--cpu-prof')) {
  // Profiling slows the server, so the profiled one is a separate process, never a measured one.
  const profDir = join(work, 'cpu-prof');
  const server = await startServer('profiled', REPO, logModes[0]!, ['--cpu-prof', '--cpu-prof-dir', profDir]);
  await loadgen.call({
    type: 'target',
    name: server.name,
    target: { kind: 'meshca', port: server.port, rootsPem: ca.certPem },
  });
  await windowOn(server, 2000, 300);
  const window = await windowOn(server, 5000, 300);
  await stopChild(server.child, 15_000);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
  const summary = summarizeProfile(join(profDir, file), window.spanUs, 25);
  console.log(`\nprofile of ${server.name} (log ${logModes[0] ? 'on' : 'off'}), main thread, self time:`);
  console.log(`idle ${summary.idlePercent.toFixed(1)}% of ${summary.sampledMs.toFixed(0)} ms sampled\n`);
  for (const f of summary.functions) console.log(`${f.percent.toFixed(1).padStart(5)}%  ${f.name}`);
  console.log('');
  for (const a of summary.areas) console.log(`${a.percent.toFixed(1).padStart(5)}%  ${a.name}`);
}
await loadgen.call({ type: 'exit' }).catch(() => {});
process.exit(0);
