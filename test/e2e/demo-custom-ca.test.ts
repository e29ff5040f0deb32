// `meshca demo custom-ca` as a user runs it: a real process playing Istio's custom-CA task (three
// signers, RA mode, foo → bar refused, then bar on a real step-ca), leaving nothing behind, even on Ctrl-C.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { runDemo } from '../../src/cli/demo.js';
import {
  assertNothingLeft,
  assertPortsClosed,
  descendants,
  printingContext,
  startDemo as startAnyDemo,
} from '../support/demo-process.js';
import { stepCaBinary } from '../support/step-ca.js';

const startDemo = (args: string[]) => startAnyDemo(['custom-ca', ...args], 90_000);

// step-ca is built (or this file fails) before the demo runs, so the demo never skips step 5 here.
stepCaBinary();

describe('meshca demo custom-ca', () => {
  test("runs Istio's custom-CA task: Moby-Dick within foo, CERTIFICATE_VERIFY_FAILED foo → bar, then step-ca", async () => {
    const demo = startDemo([]);
    const [, workDir] = await demo.waitFor(/Working in (\S+)/);
    const code = await demo.exited;
    const out = demo.output();
    assert.equal(code, 0, out);
    // Step 1: the task's signers and YAML.
    assert.match(out, /^\$ meshca certs root-ca --dir certs\/foo 'ROOTCA_CN=foo root'$/m);
    assert.match(out, /^\$ export FOOCA=\$\(sed 's\/\^\/ {8}\/' certs\/foo\/root-cert\.pem\)$/m);
    assert.match(out, /^\$ cat > config\/istio\.yaml <<EOF\n {2}apiVersion: install\.istio\.io\/v1alpha1$/m);
    assert.match(out, /^ {2}\$\{FOOCA\}\n {8}certSigners:\n {8}- clusterissuers\.cert-manager\.io\/foo$/m);
    assert.match(out, /^ {6}ISTIO_META_CERT_SIGNER: foo$/m);
    // Step 2: RA mode, the serving certificate from istio-system.
    assert.match(out, /^\$ meshca serve --config config --data-dir istiod /m);
    assert.match(out, /^\$ meshca root-cert --config config --data-dir istiod > istio-ca-root-cert\.pem$/m);
    assert.match(
      out,
      /✓ the CA's serving certificate comes from the istio-system signer .* — issuer O = Istio, CN = istio-system root/,
    );
    // Steps 3 and 4: the task's verdicts.
    assert.match(
      out,
      /the CA had spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep signed by clusterissuers\.cert-manager\.io\/foo/,
    );
    assert.match(
      out,
      /sleep\.foo → httpbin\.foo, through sleep\.foo's sidecar\n {2}HTTP 200, \d+ bytes: <title>Moby-Dick<\/title>/,
    );
    assert.match(out, /✓ sleep\.foo → httpbin\.foo: HTTP 200 and the Moby-Dick page — HTTP 200/);
    assert.match(
      out,
      /sleep\.foo → httpbin\.bar, through sleep\.foo's sidecar\n {2}HTTP 503: .*CERTIFICATE_VERIFY_FAILED/,
    );
    assert.match(
      out,
      /✓ sleep\.foo → httpbin\.bar: refused with CERTIFICATE_VERIFY_FAILED \(foo and bar have different signers\) — HTTP 503, CERTIFICATE_VERIFY_FAILED/,
    );
    for (const workload of ['httpbin.foo', 'sleep.foo', 'httpbin.bar', 'sleep.bar']) {
      const ns = workload.split('.')[1];
      assert.match(out, new RegExp(`✓ ${workload}'s root-cert\\.pem is ${ns}'s root only — 1 certificate`));
    }
    assert.match(out, /^ {2}foo\/httpbin\/cert-chain\.pem: OK$/m);
    assert.match(
      out,
      /✓ httpbin\.foo's chain does not verify against certs\/bar\/root-cert\.pem — error \d+ at/,
    );

    assert.match(
      out,
      /^\$ meshca certs intermediate step --dir certs\/step-ca 'INTERMEDIATE_CN=step-ca intermediate'$/m,
    );
    assert.match(out, /^ {2}step-ca serving on https:\/\/127\.0\.0\.1:\d+/m);
    assert.match(out, /^ {2}kind: StepClusterIssuer$/m);
    assert.match(
      out,
      /^ {2}\$\{STEPCA\}\n {8}certSigners:\n {8}- stepclusterissuers\.certmanager\.step\.sm\/bar$/m,
    );
    assert.match(out, /config-reloaded: signers .*stepclusterissuers\.certmanager\.step\.sm\/bar/);
    assert.match(
      out,
      /the CA had spiffe:\/\/cluster\.local\/ns\/bar\/sa\/httpbin signed by stepclusterissuers\.certmanager\.step\.sm\/bar/,
    );
    assert.match(
      out,
      /✓ httpbin\.bar's new leaf is issued by step-ca's intermediate .* — issuer=O = Istio, CN = step-ca intermediate/,
    );
    assert.match(out, /✓ sleep\.bar's root-cert\.pem is step-ca's root only/);
    assert.match(out, /✓ sleep\.bar → httpbin\.bar: HTTP 200 and the Moby-Dick page \(both from step-ca\)/);
    assert.match(
      out,
      /✓ sleep\.foo → httpbin\.bar: refused with CERTIFICATE_VERIFY_FAILED \(foo trusts only foo's root\) — HTTP 503, CERTIFICATE_VERIFY_FAILED/,
    );
    assert.match(out, /^\$ kill %step-ca/m);
    assert.match(out, /✓ step-ca has exited — https:\/\/127\.0\.0\.1:\d+ no longer answers/);
    assert.match(out, /All 20 checks passed in [\d.]+ s\./);
    assert.doesNotMatch(out, /Skipped:/);
    assert.doesNotMatch(out, /✗/);
    assert.equal(existsSync(workDir!), false, 'the temporary directory is removed');
    await assertPortsClosed(out);
  });

  test('--no-step-ca --quiet: only checks, step 5 skipped and said so in the summary, exit 0', async () => {
    const demo = startDemo(['--no-step-ca', '--quiet']);
    const code = await demo.exited;
    const out = demo.output();
    assert.equal(code, 0, out);
    assert.doesNotMatch(out, /^\$ /m, 'no commands in quiet mode');
    assert.match(out, /✓ sleep\.foo → httpbin\.bar: refused with CERTIFICATE_VERIFY_FAILED/);
    assert.match(
      out,
      /^ {2}– skipped: step 5 \(bar served by a real step-ca\) — turned off with --no-step-ca$/m,
    );
    assert.match(
      out,
      /All 13 checks passed in [\d.]+ s\.\nSkipped: step 5 \(bar served by a real step-ca\) — turned off with --no-step-ca\n$/,
    );
    assert.doesNotMatch(out, /step-ca serving/);
  });

  test('Ctrl-C once step-ca runs stops step-ca and every other process and removes the directory', async () => {
    const demo = startDemo([]);
    const [, workDir] = await demo.waitFor(/Working in (\S+)/);
    await demo.waitFor(/step-ca serving on https:\/\/127\.0\.0\.1:\d+/);
    const children = descendants(demo.child.pid!);
    assert.ok(
      [...children.values()].some((c) => c.includes('step-ca') && c.endsWith('ca.json')),
      `step-ca runs: ${[...children.values()].join('\n')}`,
    );
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 130, demo.output());
    assert.match(demo.output(), /Interrupted by SIGINT: stopping \d+ processes and cleaning up\./);
    await assertNothingLeft(demo.output(), children);
    assert.equal(existsSync(workDir!), false, 'the temporary directory is removed');
  });

  test('usage: --no-step-ca and --kubernetes belong to custom-ca; the help names both demos', async () => {
    const { ctx, printed } = printingContext();
    await assert.rejects(runDemo(['plug-in-ca', '--no-step-ca'], ctx), {
      code: 'DEMO_FLAG_NOT_FOR_DEMO',
      message: /^--no-step-ca is a flag of custom-ca, not of plug-in-ca\n/,
    });
    await assert.rejects(runDemo(['plug-in-ca', '--kubernetes'], ctx), {
      code: 'DEMO_FLAG_NOT_FOR_DEMO',
      message: /^--kubernetes is a flag of custom-ca, not of plug-in-ca\n/,
    });
    await assert.rejects(runDemo(['nope'], ctx), {
      code: 'DEMO_UNKNOWN',
      message: /^no demo named "nope"; demos: plug-in-ca, custom-ca\n/,
    });
    assert.equal(await runDemo(['--help'], ctx), 0);
    assert.match(
      printed.join(''),
      /meshca demo custom-ca \[--no-step-ca \| --kubernetes\] \[--keep\] \[--dir DIR\] \[--quiet\]/,
    );
  });
});
