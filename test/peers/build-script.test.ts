// The peers harness as a user meets it: --list shows each pin and whether it is built, a peer of
// several binaries (kubernetes) prints one line per binary, an unknown peer is exit 2 naming the peers
// there are, and a machine without Go gets exit 3 saying so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(REPO, 'peers', 'build.mjs');

function build(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { cwd: REPO, env, encoding: 'utf8' });
}

describe('peers/build.mjs', () => {
  test('every peer folder pins its module in go.mod and commits go.sum', () => {
    // harness/ is the TypeScript that runs the peers (shared by the demo and the tests), not a peer.
    const peers = readdirSync(join(REPO, 'peers'), { withFileTypes: true }).filter(
      (d) => d.isDirectory() && d.name !== 'harness',
    );
    assert.deepEqual(peers.map((d) => d.name).sort(), [
      'cert-manager',
      'etcd',
      'helm',
      'istio-ca',
      'kubernetes',
      'pilot-agent',
      'step-ca',
    ]);
    for (const { name } of peers) {
      const spec = JSON.parse(readFileSync(join(REPO, 'peers', name, 'peer.json'), 'utf8')) as {
        module: string;
      };
      assert.match(
        readFileSync(join(REPO, 'peers', name, 'go.mod'), 'utf8'),
        new RegExp(`${spec.module} v\\S+`),
      );
      assert.ok(readFileSync(join(REPO, 'peers', name, 'go.sum'), 'utf8').includes(spec.module));
    }
  });

  test('--list names each peer, its pinned version and its cached binary (built by npm test first)', () => {
    const r = build(['--list']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^pilot-agent\tistio\.io\/istio v0\.0\.0-\S+\tbuilt\t\S+\/pilot-agent@v0\.0\.0-\S+\/pilot-agent$/m,
    );
    assert.match(
      r.stdout,
      /^step-ca\tgithub\.com\/smallstep\/certificates v0\.30\.2\tbuilt\t\S+\/step-ca@v0\.30\.2\/step-ca$/m,
    );
    assert.match(
      r.stdout,
      /^etcd\tgo\.etcd\.io\/etcd\/server\/v3 v3\.6\.16\tbuilt\t\S+\/etcd@v3\.6\.16\/etcd$/m,
    );
    assert.match(
      r.stdout,
      /^kubernetes\tk8s\.io\/kubernetes v1\.36\.3\tbuilt\t\S+\/kubernetes@v1\.36\.3\/kube-apiserver$/m,
    );
    assert.match(
      r.stdout,
      /^kubernetes\tk8s\.io\/kubernetes v1\.36\.3\tbuilt\t\S+\/kubernetes@v1\.36\.3\/kubectl$/m,
    );
    assert.match(r.stdout, /^helm\thelm\.sh\/helm\/v4 v4\.3\.2\tbuilt\t\S+\/helm@v4\.3\.2\/helm$/m);
    assert.match(
      r.stdout,
      /^cert-manager\tgithub\.com\/cert-manager\/cert-manager v1\.21\.2\tbuilt\t\S+\/cert-manager@v1\.21\.2\/cert-manager-controller$/m,
    );
  });

  test('the kubernetes peer pins every k8s.io staging module to the release of k8s.io/kubernetes', () => {
    const goMod = readFileSync(join(REPO, 'peers', 'kubernetes', 'go.mod'), 'utf8');
    const replaced = [...goMod.matchAll(/^\s*(k8s\.io\/\S+) => (k8s\.io\/\S+) (v\S+)$/gm)];
    assert.ok(replaced.length >= 30, `only ${replaced.length} replacements`);
    for (const [line, from, to, version] of replaced) {
      assert.equal(to, from, line);
      assert.equal(version, 'v0.36.3', line);
    }
  });

  test('a cached peer is reused: --print-path answers at once with the same binary', () => {
    const r = build(['--print-path', 'step-ca']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /step-ca@v0\.30\.2\/step-ca$/);
    assert.doesNotMatch(r.stderr, /building/);
  });

  test('--print-path of a peer of several binaries prints each, one a line, in peer.json order', () => {
    const r = build(['--print-path', 'kubernetes', 'etcd']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    assert.match(lines[0]!, /\/kubernetes@v1\.36\.3\/kube-apiserver$/);
    assert.match(lines[1]!, /\/kubernetes@v1\.36\.3\/kubectl$/);
    assert.match(lines[2]!, /\/etcd@v3\.6\.16\/etcd$/);
    assert.doesNotMatch(r.stderr, /building/);
  });

  test('an unknown peer is exit 2, naming the peers there are', () => {
    const r = build(['envoy']);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /peers: unknown peer "envoy"; the peers are: cert-manager, etcd, helm, istio-ca, kubernetes, pilot-agent, step-ca/,
    );
  });

  test('without Go on PATH: exit 3, saying Go is missing and how to get it', () => {
    const r = build(['step-ca'], { PATH: '/nonexistent', HOME: process.env.HOME ?? '/' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /peers: the Go toolchain is missing: `go` is not on PATH/);
  });
});
