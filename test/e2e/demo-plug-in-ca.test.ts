// `meshca demo plug-in-ca` as a user runs it: a real process that starts CAs, sidecars and openssl,
// prints the task's verdicts, and leaves no process or file behind, even when interrupted.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CliContext } from '../../src/cli/context.js';
import { runDemo } from '../../src/cli/demo.js';
import { splitCertificates } from '../../src/demo/split-certificates.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_DEMO = join(ROOT, 'test', 'support', 'run-demo.ts');

interface DemoProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) child.kill('SIGKILL');
});

function startDemo(args: string[]): DemoProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN_DEMO, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: string) => {
    text += chunk;
    for (const l of listeners) l();
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      started.delete(child);
      resolve(code ?? (signal ? -1 : null));
    }),
  );
  return {
    child,
    output: () => text,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(text);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`demo did not print ${pattern} within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`demo exited before printing ${pattern}; output:\n${text}`));
        });
        check();
      }),
  };
}

/** Every process below `pid`, from /proc (Linux): the demo's children and theirs. */
function descendants(pid: number): Map<number, string> {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parentheses; the fields after the last ')' do not.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(name), ppid);
    } catch {
      // gone while we looked
    }
  }
  const found = new Map<number, string>();
  let frontier = [pid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [child, parent] of parentOf) {
      if (frontier.includes(parent) && !found.has(child)) {
        found.set(child, cmdline(child) ?? '');
        next.push(child);
      }
    }
    frontier = next;
  }
  return found;
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/** Still running as the same program (a zombie or a recycled pid does not count). */
function stillRunning(pid: number, command: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && cmdline(pid) === command;
  } catch {
    return false;
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The ports the demo printed: CAs, httpbin, mesh and outbound ports. */
function printedPorts(output: string): number[] {
  return [...output.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])).filter((p) => p > 0);
}

async function assertNothingLeft(demo: DemoProcess, children: Map<number, string>): Promise<void> {
  const left = [...children].filter(([pid, command]) => stillRunning(pid, command));
  assert.deepEqual(left, [], 'every process the demo started has exited');
  for (const port of new Set(printedPorts(demo.output())))
    assert.equal(await answers(port), false, `port ${port} no longer answers`);
}

describe('meshca demo plug-in-ca', () => {
  test("runs Istio's task end to end: identical certificates, OK, 200, CERTIFICATE_VERIFY_FAILED", async () => {
    const demo = startDemo(['plug-in-ca']);
    const [, workDir] = await demo.waitFor(/Working in (\S+)/);
    const code = await demo.exited;
    const out = demo.output();
    assert.equal(code, 0, out);
    assert.match(out, /\$ meshca certs root-ca --dir certs\n/);
    assert.match(out, /\$ meshca certs intermediate cluster1 --dir certs\n/);
    assert.match(out, /\$ meshca serve --cacerts certs\/cluster1 /);
    assert.match(out, /--config cluster1\/foo\/peer-authentication\.yaml/);
    assert.match(out, /HTTP 200, \d+ bytes: <title>Moby-Dick<\/title>/);
    assert.match(out, /"X-Forwarded-Client-Cert": ".*URI=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep/);
    assert.match(out, /refused: .*ECONNRESET/);
    assert.match(
      out,
      /\$ openssl s_client -showcerts -connect 127\.0\.0\.1:\d+ -cert cluster1\/foo\/sleep\/cert-chain\.pem -key cluster1\/foo\/sleep\/key\.pem < \/dev\/null/,
    );
    assert.match(out, /^ {2}Files root-cert\.crt\.txt and pod-root-cert\.crt\.txt are identical$/m);
    assert.match(out, /^ {2}Files ca-cert\.crt\.txt and pod-cert-chain-ca\.crt\.txt are identical$/m);
    assert.match(out, /^ {2}proxy-cert-1\.pem: OK$/m);
    assert.match(out, /✓ sleep in cluster2 .*: HTTP 200 — HTTP 200/);
    assert.match(out, /HTTP 503: .*CERTIFICATE_VERIFY_FAILED/);
    assert.match(out, /✓ sleep under an unrelated root .* — HTTP 503, CERTIFICATE_VERIFY_FAILED/);
    assert.match(out, /All 12 checks passed in [\d.]+ s\./);
    assert.doesNotMatch(out, /✗/);
    assert.equal(existsSync(workDir!), false, 'the temporary directory is removed');
    for (const port of new Set(printedPorts(out))) assert.equal(await answers(port), false, `port ${port}`);
  });

  test('Ctrl-C during step 3 stops every process it started and removes the temporary directory', async () => {
    const demo = startDemo([]);
    const [, workDir] = await demo.waitFor(/Working in (\S+)/);
    await demo.waitFor(/\[3\/7\][\s\S]*httpbin's sidecar ready/);
    const children = descendants(demo.child.pid!);
    assert.ok(
      [...children.values()].filter((c) => c.includes('bin/meshca.js')).length >= 3,
      `the CA, httpbin and its sidecar run: ${[...children.values()].join('\n')}`,
    );
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 130, demo.output());
    assert.match(demo.output(), /Interrupted by SIGINT: stopping \d+ processes and cleaning up\./);
    await assertNothingLeft(demo, children);
    assert.equal(existsSync(workDir!), false, 'the temporary directory is removed');
  });

  test('--dir --keep --quiet: only checks are printed; on Ctrl-C the files stay and the processes go', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'meshca-demo-test-'));
    try {
      const dir = join(parent, 'demo');
      const demo = startDemo(['--dir', dir, '--keep', '--quiet']);
      await demo.waitFor(/✓ a plaintext call to httpbin's mesh port is refused/);
      const children = descendants(demo.child.pid!);
      demo.child.kill('SIGINT');
      assert.equal(await demo.exited, 130, demo.output());
      const out = demo.output();
      assert.doesNotMatch(out, /^\$ /m, 'no commands in quiet mode');
      assert.match(out, /✓ sleep → httpbin through the mesh: HTTP 200/);
      assert.match(out, new RegExp(`Kept ${dir.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.ok(existsSync(join(dir, 'certs', 'cluster1', 'ca-cert.pem')), 'the files are kept');
      await assertNothingLeft(demo, children);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  test('usage: unknown demo, extra arguments and a non-empty --dir are refused with their codes', async () => {
    const printed: string[] = [];
    const ctx: CliContext = {
      out: (t) => printed.push(t),
      err: (t) => printed.push(t),
      env: process.env,
      cwd: ROOT,
    };
    await assert.rejects(runDemo(['custom-ca-someday'], ctx), {
      code: 'DEMO_UNKNOWN',
      message: /no demo named "custom-ca-someday"; demos: plug-in-ca/,
    });
    await assert.rejects(runDemo(['plug-in-ca', 'extra'], ctx), {
      code: 'DEMO_UNKNOWN',
      message: /unexpected arguments: extra/,
    });
    const used = mkdtempSync(join(tmpdir(), 'meshca-demo-used-'));
    try {
      mkdirSync(join(used, 'certs'));
      writeFileSync(join(used, 'keep-me.txt'), 'mine');
      await assert.rejects(runDemo(['--dir', used], ctx), {
        code: 'DEMO_DIR_NOT_EMPTY',
        message: new RegExp(`--dir ${used} is not empty \\((certs, keep-me\\.txt|keep-me\\.txt, certs)\\)`),
      });
      assert.equal(readFileSync(join(used, 'keep-me.txt'), 'utf8'), 'mine');
    } finally {
      rmSync(used, { recursive: true, force: true });
    }
    assert.equal(await runDemo(['--help'], ctx), 0);
    assert.match(printed.join(''), /Usage: meshca demo \[plug-in-ca\] \[--keep\] \[--dir DIR\] \[--quiet\]/);
  });

  test("splitting s_client output gives the task's proxy-cert-N.pem files, in order", () => {
    const block = (n: number) => `-----BEGIN CERTIFICATE-----\nAAA${n}\n-----END CERTIFICATE-----`;
    const text = `CONNECTED(00000003)\n 0 s:\n${block(1)}\r\n 1 s:O = Istio\n${block(2)}\n 2 s:\n${block(3)}\n---\nDONE\n`;
    assert.deepEqual(
      splitCertificates(text),
      [1, 2, 3].map((n) => `${block(n)}\n`),
    );
    assert.deepEqual(splitCertificates('no certificates'), []);
  });
});
