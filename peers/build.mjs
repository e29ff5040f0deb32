#!/usr/bin/env node
// The peers harness: builds the real programs meshca's tests, demos and benches talk to (Istio's agent,
// step-ca, …) from pinned Go modules, once, into a cache that a changed pin invalidates.
//
// Each peer is a folder beside this file holding a small Go module (go.mod + go.sum pin the versions;
// peers never share a module, so their dependencies cannot conflict) and a peer.json naming the main
// package to build ("package" and "binary"), or several built from the one module ("binaries": binary
// name → main package; the Kubernetes peer gives kube-apiserver and kubectl). A build lands in
// <cache>/peers/<name>@<version>/<binary>… with a build.json stamp; it is reused while the stamp's key
// (a hash of the peer's folder and the Go version) still matches.
//
// Usage: node peers/build.mjs [--print-path] [--list] [--tidy] [NAME...]
//   (--print-path prints one line per binary, in peer.json's order)
//   (no NAME: every peer; MESHCA_CACHE_DIR overrides <repo>/.cache)
// Exit codes: 0 built or cached, 1 a build failed, 2 bad usage, 3 a tool (Go) is missing.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEERS_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(PEERS_DIR);
const HEARTBEAT_MS = 15_000;

export class PeerError extends Error {
  /** @param {string} message @param {number} exitCode */
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

function say(message) {
  process.stderr.write(`peers: ${message}\n`);
}

export function cacheRoot() {
  return join(
    process.env.MESHCA_CACHE_DIR ? resolve(process.env.MESHCA_CACHE_DIR) : join(REPO, '.cache'),
    'peers',
  );
}

/** Every peer folder's name (a folder with a peer.json). */
export function peerNames() {
  return readdirSync(PEERS_DIR)
    .filter((name) => existsSync(join(PEERS_DIR, name, 'peer.json')))
    .sort();
}

/** The version go.mod pins for the peer's module, e.g. `v0.30.2`. */
function pinnedVersion(name, spec) {
  const goMod = readFileSync(join(PEERS_DIR, name, 'go.mod'), 'utf8');
  const escaped = spec.module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = goMod.match(new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm'));
  if (!match)
    throw new PeerError(
      `peers/${name}/go.mod does not require ${spec.module}; run: go get ${spec.module}@VERSION there`,
      2,
    );
  return match[1];
}

/** peer.json's main packages as `[{ name, package }]`: its "binaries" map, or its one "package"/"binary". */
function mainPackages(name, spec) {
  const entries = spec.binaries
    ? Object.entries(spec.binaries).map(([binary, pkg]) => ({ name: binary, package: pkg }))
    : [{ name: spec.binary, package: spec.package }];
  if (
    entries.length === 0 ||
    entries.some((e) => typeof e.name !== 'string' || typeof e.package !== 'string')
  )
    throw new PeerError(
      `peers/${name}/peer.json must name "package" and "binary", or "binaries": { "<binary>": "<main package>" }`,
      2,
    );
  return entries;
}

/** The peer's definition, pinned version and where its binaries go (`binary`: the first of them). */
export function describePeer(name) {
  const file = join(PEERS_DIR, name, 'peer.json');
  if (!existsSync(file)) {
    throw new PeerError(`unknown peer "${name}"; the peers are: ${peerNames().join(', ')}`, 2);
  }
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  const version = pinnedVersion(name, spec);
  const dir = join(cacheRoot(), `${name}@${version}`);
  const binaries = mainPackages(name, spec).map((b) => ({ ...b, path: join(dir, b.name) }));
  return { name, spec, version, dir, binaries, binary: binaries[0].path, stamp: join(dir, 'build.json') };
}

let goVersionMemo;
/** `go1.26.8`, or a PeerError naming the missing tool. */
function goVersion() {
  if (goVersionMemo) return goVersionMemo;
  const run = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  if (run.error?.code === 'ENOENT') {
    throw new PeerError(
      'the Go toolchain is missing: `go` is not on PATH. Peers are built from Go modules; install Go 1.26 or newer and put its bin/ on PATH (e.g. export PATH=$PATH:/usr/local/go/bin)',
      3,
    );
  }
  if (run.status !== 0) throw new PeerError(`\`go env GOVERSION\` failed: ${run.stderr.trim()}`, 3);
  goVersionMemo = run.stdout.trim();
  return goVersionMemo;
}

/** A hash of everything that decides the binary: the peer's files and the Go version. */
function buildKey(peer) {
  const hash = createHash('sha256');
  const folder = join(PEERS_DIR, peer.name);
  for (const file of readdirSync(folder).sort()) {
    if (!statSync(join(folder, file)).isFile()) continue;
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(folder, file)))
      .update('\0');
  }
  hash.update(goVersion());
  return hash.digest('hex');
}

function isBuilt(peer, key) {
  if (!peer.binaries.every((b) => existsSync(b.path)) || !existsSync(peer.stamp)) return false;
  try {
    return JSON.parse(readFileSync(peer.stamp, 'utf8')).key === key;
  } catch {
    return false;
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Takes `<dir>.lock` so that two test files starting at once build a peer once, not twice on a 2-core
 * machine. A lock left by a process that died is taken over.
 */
function lock(peer) {
  mkdirSync(dirname(peer.dir), { recursive: true });
  const path = `${peer.dir}.lock`;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(path, 'utf8').trim() || 0);
    if (holder && !alive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (!told) {
      say(`waiting for another build of ${peer.name} (pid ${holder || '?'})`);
      told = true;
    }
    sleepSync(500);
  }
}

/**
 * Runs `go build` of one main package with progress lines every 15 s; resolves with the seconds it
 * took, rejects with Go's last output.
 */
function goBuild(peer, main, output) {
  const args = ['build', '-v', '-trimpath', '-o', output];
  if (peer.spec.ldflags) args.push(`-ldflags=${peer.spec.ldflags}`);
  args.push(main.package);
  const started = Date.now();
  let downloads = 0;
  let packages = 0;
  const tail = [];
  return new Promise((done, fail) => {
    const child = spawn('go', args, {
      cwd: join(PEERS_DIR, peer.name),
      // -mod=readonly: a go.sum that lacks an entry is an error, never a silent re-resolution.
      env: { ...process.env, ...peer.spec.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim() },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    const heartbeat = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      say(`${main.name}: ${s} s, ${downloads} modules downloaded, ${packages} packages compiled`);
    }, HEARTBEAT_MS);
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('go: downloading ')) downloads++;
        else packages++;
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    });
    child.on('error', (err) => {
      clearInterval(heartbeat);
      fail(new PeerError(`could not run go: ${err.message}`, 3));
    });
    child.on('exit', (code, signal) => {
      clearInterval(heartbeat);
      if (pending) tail.push(pending);
      if (code === 0) return done(Math.round((Date.now() - started) / 1000));
      const hint = tail.some((l) => l.includes('missing go.sum entry'))
        ? `\ngo.sum is incomplete: run \`node peers/build.mjs --tidy ${peer.name}\` and commit peers/${peer.name}/go.sum`
        : tail.some((l) => /proxy|dial tcp|lookup /.test(l))
          ? '\nthe Go module proxy could not be reached: check the network or GOPROXY'
          : '';
      fail(
        new PeerError(
          `go build of ${peer.name} (${main.package} ${peer.version}) failed (${signal ?? `exit ${code}`}); its last lines:\n${tail.join('\n')}${hint}`,
          1,
        ),
      );
    });
  });
}

/**
 * Builds the peer unless the cache already holds this exact build; resolves with its binaries' paths
 * (one for most peers), in peer.json's order.
 */
export async function ensurePeer(name) {
  const peer = describePeer(name);
  const paths = peer.binaries.map((b) => b.path);
  const key = buildKey(peer);
  if (isBuilt(peer, key)) return paths;
  const unlock = lock(peer);
  try {
    if (isBuilt(peer, key)) return paths;
    mkdirSync(peer.dir, { recursive: true });
    // A stale stamp must not vouch for a half-replaced set of binaries if this build fails midway.
    rmSync(peer.stamp, { force: true });
    const what = peer.binaries.map((b) => b.name).join(' and ');
    say(
      `building ${what} (${peer.spec.module} ${peer.version}) with ${goVersion()} into ${peer.dir}; a cold build takes minutes`,
    );
    // One `go build` per binary, one after another: on 2 cores a second build at once would only
    // compete, and the second reuses every package the first compiled from Go's build cache.
    const seconds = {};
    for (const main of peer.binaries) {
      const temp = `${main.path}.tmp-${process.pid}`;
      try {
        seconds[main.name] = await goBuild(peer, main, temp);
        renameSync(temp, main.path);
      } finally {
        rmSync(temp, { force: true });
      }
    }
    const total = Object.values(seconds).reduce((a, b) => a + b, 0);
    writeFileSync(
      peer.stamp,
      `${JSON.stringify({ key, version: peer.version, go: goVersion(), seconds: total, binaries: seconds, builtAt: new Date().toISOString() }, null, 2)}\n`,
    );
    say(`built ${name} in ${total} s`);
    return paths;
  } finally {
    unlock();
  }
}

/** `go mod tidy` in each peer's module: after changing a pin in go.mod. */
function tidy(name) {
  say(`go mod tidy in peers/${name}`);
  const run = spawnSync('go', ['mod', 'tidy'], { cwd: join(PEERS_DIR, name), stdio: 'inherit' });
  if (run.status !== 0) throw new PeerError(`go mod tidy failed in peers/${name}`, 1);
}

function list(names) {
  for (const name of names) {
    const peer = describePeer(name);
    const state = isBuilt(peer, buildKey(peer)) ? 'built' : 'not built';
    for (const { path } of peer.binaries) {
      process.stdout.write(`${name}\t${peer.spec.module} ${peer.version}\t${state}\t${path}\n`);
    }
  }
}

async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('-')));
  const names = argv.filter((a) => !a.startsWith('-'));
  if (flags.has('-h') || flags.has('--help')) {
    process.stdout.write(
      'Usage: node peers/build.mjs [--print-path] [--list] [--tidy] [NAME...]\n' +
        'Builds the real peer programs (Istio agent, step-ca, etcd, kube-apiserver, kubectl, …) from the pinned Go modules in peers/,\n' +
        'once, into .cache/peers/<name>@<version>/ (MESHCA_CACHE_DIR overrides .cache).\n' +
        '  --print-path  print each binary path on stdout, one a line\n' +
        '  --list        show each peer binary, its pin and whether it is built\n' +
        '  --tidy        run go mod tidy in the peer modules (after changing a pin), then build\n' +
        `Peers: ${peerNames().join(', ')}\n`,
    );
    return 0;
  }
  const unknown = [...flags].filter((f) => !['--print-path', '--list', '--tidy'].includes(f));
  if (unknown.length) throw new PeerError(`unknown option ${unknown[0]}; see --help`, 2);
  const selected = names.length ? names : peerNames();
  if (flags.has('--list')) {
    list(selected);
    return 0;
  }
  goVersion();
  if (flags.has('--tidy')) for (const name of selected) tidy(name);
  for (const name of selected) {
    const paths = await ensurePeer(name);
    if (flags.has('--print-path')) process.stdout.write(paths.map((p) => `${p}\n`).join(''));
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      say(err instanceof PeerError ? err.message : (err?.stack ?? String(err)));
      process.exit(err instanceof PeerError ? err.exitCode : 70);
    },
  );
}
