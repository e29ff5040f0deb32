// `meshca demo plug-in-ca` as a user runs it: a real process that starts CAs, sidecars and openssl,
// prints the task's verdicts, and leaves no process or file behind, even when interrupted.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { splitCertificates } from '../../demo/split-certificates.js';
import { runDemo } from '../../src/cli/demo.js';
import {
  assertNothingLeft,
  assertPortsClosed,
  descendants,
  printingContext,
  startDemo,
} from '../support/demo-process.js';
import { peerBinary } from '../support/peers.js';

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
    await assertPortsClosed(out);
  });

  test("--agent istio: Istio's pilot-agent fetches every workload's certificate; the task's checks all pass", async () => {
    peerBinary('pilot-agent'); // built before the demo starts, so the demo's timing is the task's
    const demo = startDemo(['plug-in-ca', '--agent', 'istio']);
    const [, workDir] = await demo.waitFor(/Working in (\S+)/);
    const code = await demo.exited;
    const out = demo.output();
    assert.equal(code, 0, out);
    for (const workload of [
      'cluster1/foo/httpbin',
      'cluster1/foo/sleep',
      'cluster2/foo/sleep',
      'cluster3/foo/sleep',
    ]) {
      assert.match(
        out,
        new RegExp(
          `\\$ \\(cd ${workload}-agent && CLOUD_PLATFORM=none DISABLE_ENVOY=true OUTPUT_CERTS=\\.\\./\\w+ .*\\n {3}pilot-agent proxy sidecar --log_as_json\\) &`,
        ),
      );
      assert.match(out, new RegExp(`\\$ meshca sidecar --no-agent --output-dir ${workload} `));
    }
    assert.match(
      out,
      /\(pilot-agent, pid \d+\) fetched spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin from cluster1's CA/,
    );
    assert.doesNotMatch(out, /--token-file/, "no workload uses meshca's own agent");
    assert.match(out, /^ {2}Files ca-cert\.crt\.txt and pod-cert-chain-ca\.crt\.txt are identical$/m);
    assert.match(out, /^ {2}proxy-cert-1\.pem: OK$/m);
    assert.match(out, /✓ sleep under an unrelated root .* — HTTP 503, CERTIFICATE_VERIFY_FAILED/);
    assert.match(out, /All 12 checks passed in [\d.]+ s\./);
    assert.equal(existsSync(workDir!), false, 'the temporary directory is removed');
    await assertPortsClosed(out);
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
    await assertNothingLeft(demo.output(), children);
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
      await assertNothingLeft(demo.output(), children);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  test('usage: unknown demo, extra arguments and a non-empty --dir are refused with their codes', async () => {
    const { ctx, printed } = printingContext();
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
    assert.match(
      printed.join(''),
      /Usage: meshca demo \[plug-in-ca\] \[--agent meshca\|istio\] \[--keep\] \[--dir DIR\] \[--quiet\]/,
    );
    await assert.rejects(runDemo(['--agent', 'envoy'], ctx), {
      code: 'DEMO_BAD_AGENT',
      message: /--agent envoy: use meshca or istio/,
    });
    await assert.rejects(runDemo(['custom-ca', '--agent', 'istio'], ctx), {
      code: 'DEMO_FLAG_NOT_FOR_DEMO',
      message: /--agent is a flag of plug-in-ca, not of custom-ca/,
    });
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
