// Every ```sh block of the README, run as written, in order, the way a user follows it: one working
// directory, `meshca` and `pilot-agent` on PATH, long-running commands (serve, sample, sidecar,
// agent, pilot-agent) started in the background and awaited until ready. The README's ports are
// fixed (15012, 8000, 15001, …), so this file runs its steps one after another. The Kubernetes
// blocks run against a real API server (startKubeCluster), with the kubernetes peer's kubectl on PATH
// and KUBECONFIG set, from a directory where `deploy/` is the repository's, as at its root.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startKubeCluster } from '../support/kube-cluster.js';
import { waitFor } from '../support/mesh-workloads.js';
import { peerBinary } from '../support/peers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

interface Block {
  heading: string;
  commands: string[];
}

/** The README's sh blocks, each as its commands (continuation lines joined, comments dropped). */
function shBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const match of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const heading =
      markdown
        .slice(0, match.index)
        .split('\n')
        .filter((l) => l.startsWith('#'))
        .at(-1) ?? '';
    const commands: string[] = [];
    let current = '';
    for (const line of match[1]!.split('\n')) {
      if (line.trimEnd().endsWith('\\')) {
        current += `${line.trimEnd().slice(0, -1)} `;
        continue;
      }
      const command = `${current}${line}`.replace(/\s+#\s.*$/, '').trim();
      current = '';
      if (command) commands.push(command);
    }
    blocks.push({ heading, commands });
  }
  return blocks;
}

/** Blocks not run here, each with the reason and where its commands are exercised instead. */
const NOT_RUN_HERE: Record<string, string> = {
  'npm ci && npm start':
    'the quick start: CI runs `npm ci` and `npm test` on a clean clone; `npm start` is `meshca serve`, run below',
  'meshca certs root-ca --dir certs-next': 'root rotation: test/e2e/mesh-root-rotation.test.ts',
  'meshca rotate prepare --new-cacerts certs-next/cluster1 --kubeconfig':
    'root rotation in Kubernetes: test/kubernetes/rotation-in-kubernetes.test.ts',
  'meshca log verify ':
    'the issuance log commands: run against a real meshca serve (issue, list, show, checkpoint, verify, kill -9) by test/e2e/issuance-log.test.ts',
  'npm run demo':
    'the demos: run end to end by test/e2e/demo-plug-in-ca.test.ts and test/e2e/demo-custom-ca.test.ts',
  'openssl req -new -nodes -newkey ec ':
    'meshca as a CSR signer: requests through the real CSR API by test/kubernetes/csr-signer.test.ts',
  'kubectl delete secret istio.default':
    "the workload Secrets: the seed's steps against a real API server by test/kubernetes/workload-secrets.test.ts",
};

/** How to tell a long-running command is ready: a log line on its output. */
function readiness(command: string): RegExp | undefined {
  if (/^(\w+=\S+ )*meshca serve\b/.test(command)) return /"msg":"meshca CA serving"/;
  if (/^meshca sample\b/.test(command)) return /"msg":"httpbin listening"/;
  if (/^meshca sidecar\b/.test(command)) return /"event":"credentials_loaded"/;
  if (/^meshca agent\b/.test(command) && !/--once/.test(command)) return /"event":"issued"/;
  if (/\bpilot-agent proxy\b/.test(command)) return /returned workload trust anchor from cache/;
  return undefined;
}

describe('README code blocks, run as written', { timeout: 240_000 }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const running: { command: string; child: ChildProcess; output: () => string }[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'meshca-readme-'));
    const bin = join(dir, '.bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'meshca'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin', 'meshca.js')}" "$@"\n`,
    );
    chmodSync(join(bin, 'meshca'), 0o755);
    writeFileSync(join(bin, 'pilot-agent'), `#!/bin/sh\nexec "${peerBinary('pilot-agent')}" "$@"\n`);
    chmodSync(join(bin, 'pilot-agent'), 0o755);
    // The README's commands with the defaults they document: none of meshca's or Istio's settings leak in.
    env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^(MESHCA_|ISTIO_|CA_ADDR|OUTPUT_CERTS|TRUST_DOMAIN|JWT_RULE)/.test(k),
      ),
    );
    env.PATH = `${bin}:${dirname(process.execPath)}:${process.env.PATH}`;
  });
  after(async () => {
    for (const r of running) await stop(r);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a short command to completion in the session directory; fails with its output. */
  function run(command: string): string {
    const r = spawnSync('bash', ['-c', command], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `\`${command}\` exited ${r.status}:\n${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  }

  /** Starts a long-running command in its own process group and waits until it is ready. */
  async function start(command: string) {
    const ready = readiness(command)!;
    const child = spawn('bash', ['-c', command], {
      cwd: dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    const collect = (c: string) => {
      text += c;
    };
    child.stdout!.setEncoding('utf8').on('data', collect);
    child.stderr!.setEncoding('utf8').on('data', collect);
    const entry = { command, child, output: () => text };
    running.push(entry);
    await waitFor(
      `\`${command}\` to be ready`,
      () => {
        if (child.exitCode !== null) throw new Error(`\`${command}\` exited ${child.exitCode}:\n${text}`);
        return ready.test(text) ? true : undefined;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${text.slice(-3000)}`);
    });
    return entry;
  }

  async function stop(entry: { child: ChildProcess }): Promise<void> {
    const { child } = entry;
    running.splice(running.indexOf(entry as (typeof running)[number]), 1);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * Runs a whole block: long-running commands in the background (stopped at the end), the others
   * in turn, consecutive ones in one shell so that a `cd` carries over as it would for a user.
   */
  async function runBlock(block: Block): Promise<string> {
    let out = '';
    const started: Awaited<ReturnType<typeof start>>[] = [];
    let pending: string[] = [];
    const flush = () => {
      if (pending.length) out += run(['set -e', ...pending].join('\n'));
      pending = [];
    };
    for (const command of block.commands) {
      if (readiness(command)) {
        flush();
        started.push(await start(command));
      } else pending.push(command);
    }
    flush();
    for (const s of started.reverse()) await stop(s);
    return out;
  }

  const blocks = shBlocks(README);
  /** The one block whose first command is `first` (or starts with it, when it ends in a space). */
  const matches = (command: string, first: string) =>
    first.endsWith(' ') ? command.startsWith(first) : command === first;
  const byFirst = (first: string) => {
    const found = blocks.filter((b) => matches(b.commands[0] ?? '', first));
    assert.equal(found.length, 1, `one README block starts with "${first}"`);
    return found[0]!;
  };

  test('every block is either run below or named with the reason it is not', () => {
    const runHere = [
      'mkdir certs && cd certs',
      'meshca serve',
      'meshca token -n foo --service-account sleep > sleep.jwt',
      'meshca agent ',
      'meshca token -n foo --service-account httpbin > httpbin.jwt',
      'meshca serve --data-dir ca',
      'mkdir -p httpbin/var/run/secrets/istio httpbin/var/run/secrets/tokens httpbin/certs',
      'kubectl apply --server-side -f deploy/manifests/meshca.yaml',
      'meshca certs root-ca --dir k8s-certs',
      'mkdir -p hsm/tokens',
      'SOFTHSM2_CONF=$PWD/hsm/softhsm2.conf meshca serve ',
    ];
    for (const block of blocks) {
      const first = block.commands[0] ?? '';
      const known =
        runHere.some((p) => matches(first, p)) || Object.keys(NOT_RUN_HERE).some((p) => first.startsWith(p));
      assert.ok(known, `README block under "${block.heading}" (${first}) is run by no test`);
    }
  });

  test('meshca certs: the offline root, cluster1, east, a workload', async () => {
    await runBlock(byFirst('mkdir certs && cd certs'));
    for (const f of [
      'root-cert.pem',
      'root-key.pem',
      'cluster1/ca-cert.pem',
      'east/cert-chain.pem',
      'foo/key.pem',
    ])
      assert.ok(existsSync(join(dir, 'certs', f)), f);
  });

  test('meshca serve: each of the three ways starts serving', async () => {
    const block = byFirst('meshca serve');
    assert.equal(block.commands.length, 3);
    for (const command of block.commands) await stop(await start(command));
  });

  test('a workload by hand, a standalone agent, and two workloads with sidecars, against `meshca serve`', async () => {
    const ca = await start('meshca serve');
    try {
      const byHand = await runBlock(byFirst('meshca token -n foo --service-account sleep > sleep.jwt'));
      assert.match(byHand, /^sleep\/cert-chain\.pem: OK$/m);
      await runBlock(byFirst('meshca agent '));
      assert.ok(existsSync(join(dir, 'certs', 'agent-demo', 'cert-chain.pem')));
      const mesh = await runBlock(byFirst('meshca token -n foo --service-account httpbin > httpbin.jwt'));
      assert.match(mesh, /"X-Forwarded-Client-Cert": ".*URI=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep/);
    } finally {
      await stop(ca);
    }
  });

  test('Keys in a hardware token: root and intermediate made in SoftHSM2, served, a workload verified', async () => {
    const made = await runBlock(byFirst('mkdir -p hsm/tokens'));
    assert.ok(!existsSync(join(dir, 'hsm', 'pki', 'root-key.pem')));
    assert.ok(!existsSync(join(dir, 'hsm', 'pki', 'cluster1', 'ca-key.pem')));
    assert.match(
      made,
      /label:\s+cluster1-ca\n[\s\S]*?Access:\s+sensitive, always sensitive, never extractable, local/,
    );
    const served = await runBlock(byFirst('SOFTHSM2_CONF=$PWD/hsm/softhsm2.conf meshca serve '));
    assert.match(served, /^hsm\/sleep\/cert-chain\.pem: OK$/m);
  });

  test("Istio's pilot-agent, set up as the README says, gets its certificate", async () => {
    const ca = await start(byFirst('meshca serve --data-dir ca').commands[0]!);
    try {
      await runBlock(
        byFirst('mkdir -p httpbin/var/run/secrets/istio httpbin/var/run/secrets/tokens httpbin/certs'),
      );
      const out = run('openssl verify -CAfile httpbin/certs/root-cert.pem httpbin/certs/cert-chain.pem');
      assert.match(out, /cert-chain\.pem: OK/);
    } finally {
      await stop(ca);
    }
  });

  test('Run on Kubernetes: the manifests applied, then `meshca serve --kubeconfig` with cacerts, against a real API server', async () => {
    const cluster = await startKubeCluster();
    try {
      const bin = join(dir, '.bin');
      writeFileSync(join(bin, 'kubectl'), `#!/bin/sh\nexec "${peerBinary('kubernetes', 'kubectl')}" "$@"\n`);
      chmodSync(join(bin, 'kubectl'), 0o755);
      // The user runs these from the repository root, where deploy/ is.
      symlinkSync(join(REPO, 'deploy'), join(dir, 'deploy'));
      env.KUBECONFIG = cluster.kubeconfigPath;
      // kubectl's discovery cache stays in the session directory, not in the user's ~/.kube.
      env.KUBECACHEDIR = join(dir, '.kube-cache');
      // First: it creates the istio-system namespace the cacerts Secret goes into.
      const applied = await runBlock(byFirst('kubectl apply --server-side -f deploy/manifests/meshca.yaml'));
      assert.match(applied, /^deployment\.apps\/meshca serverside-applied$/m);
      const out = await runBlock(byFirst('meshca certs root-ca --dir k8s-certs'));
      assert.match(out, /^root identical$/m);
      assert.match(out, /^k8s-sleep\/cert-chain\.pem: OK$/m);
    } finally {
      delete env.KUBECONFIG;
      delete env.KUBECACHEDIR;
      await cluster.stop();
    }
  });
});
