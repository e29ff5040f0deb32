// The real peer programs the demos and tests run (smallstep's step-ca, Istio's pilot-agent, etcd, the
// Kubernetes API server and kubectl, and helm, which renders deploy/'s chart): built once from the
// pinned Go modules in peers/ by peers/build.mjs and cached in <package root>/.cache/peers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unavailable } from '../../src/index.js';

export type PeerName =
  | 'step-ca'
  | 'pilot-agent'
  | 'istio-ca'
  | 'etcd'
  | 'kubernetes'
  | 'helm'
  | 'cert-manager';

const BUILD_SCRIPT = join('peers', 'build.mjs');
/** The build script's exit code for "a tool (Go) is missing"; anything else non-zero is a real failure. */
const TOOL_MISSING = 3;

/** What building a peer gave: its binaries (one for most peers, in peer.json's order) or why not. */
type Built = { bins?: string[]; reason?: string };

const built = new Map<PeerName, Built>();

/** The package root holding peers/build.mjs, from peers/harness/ (tsx) and dist/peers/harness/ alike. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, BUILD_SCRIPT))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function build(name: PeerName): Built {
  const root = packageRoot();
  if (!root) {
    return {
      reason: `${name} cannot be built here: ${BUILD_SCRIPT} is not beside this meshca installation; run from a meshca source checkout`,
    };
  }
  // stderr passes through: a cold build takes minutes and prints its progress.
  const run = spawnSync(process.execPath, [join(root, BUILD_SCRIPT), '--print-path', name], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (run.status === 0) {
    const bins = run.stdout.split('\n').filter(Boolean);
    if (bins.length > 0) return { bins };
  }
  if (run.status === TOOL_MISSING) {
    return { reason: `${name} cannot be built here: Go is missing (see the peers: line above)` };
  }
  const how = run.error
    ? run.error.message
    : run.status === 0
      ? 'it printed no binary path'
      : `exit ${run.status ?? run.signal}`;
  throw unavailable(
    'DEMO_PEER_BUILD_FAILED',
    `node ${BUILD_SCRIPT} ${name} failed (${how}); fix what its output above says and run it again`,
    run.error,
  );
}

/**
 * The peer's binary path, built on first use (minutes when cold) and cached, keyed by its pinned
 * module. `binary` picks one of a peer that builds several (kubernetes: kube-apiserver, kubectl);
 * without it, the peer's first. Undefined, with the reason kept for `peerMissingReason()`, only when
 * Go is missing or this is not a source checkout; a failed build throws DEMO_PEER_BUILD_FAILED.
 */
export function ensurePeerBinary(name: PeerName, binary?: string): string | undefined {
  let result = built.get(name);
  if (!result) {
    result = build(name);
    built.set(name, result);
  }
  if (!result.bins) return undefined;
  if (binary === undefined) return result.bins[0];
  const bin = result.bins.find((path) => basename(path) === binary);
  if (!bin) {
    throw unavailable(
      'DEMO_PEER_BUILD_FAILED',
      `peer ${name} builds ${result.bins.map((p) => basename(p)).join(', ')}, not ${binary}; see peers/${name}/peer.json`,
    );
  }
  return bin;
}

/** The peer's Go module folder (peers/<name>/ of the source checkout), or undefined outside one. */
export function peerModuleDir(name: PeerName): string | undefined {
  const root = packageRoot();
  return root ? join(root, 'peers', name) : undefined;
}

/** Why `ensurePeerBinary(name)` returned undefined (for the demo's "skipped" line). */
export function peerMissingReason(name: PeerName): string | undefined {
  return built.get(name)?.reason;
}
