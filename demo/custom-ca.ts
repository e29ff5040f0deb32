// `meshca demo custom-ca`: Istio's "Custom CA Integration using Kubernetes CSR API" task end to end on
// one machine — three signers, the CA as a registration authority, then bar's signer as a real step-ca.
import { connect } from 'node:net';
import { ensurePeerBinary, peerMissingReason } from '../peers/harness/peer-binary.js';
import type { RunningStepCa } from '../peers/harness/step-ca/start-step-ca.js';
import { isMeshcaError, type MeshcaError } from '../src/index.js';
import { CONFIG_DIR, DATA_DIR, makeTaskSigners, type TaskSigners } from './custom-ca-signers.js';
import { startRegistrationAuthority } from './custom-ca-start-ra.js';
import { switchBarToStepCa } from './custom-ca-step-ca.js';
import { callHttpbin, checkRootCert, checkVerify } from './custom-ca-verify.js';
import {
  deployHttpbin,
  type HttpbinDeployment,
  MTLS_MODE,
  startSleepSidecar,
  upstreamsOf,
} from './custom-ca-workloads.js';
import { type DemoContext, inOrder, throwIfInterrupted } from './demo-context.js';
import { type DemoRunOptions, runDemoScenario } from './run-demo-scenario.js';
import type { RunningCa } from './start-ca.js';
import type { RunningSidecar } from './start-workload.js';

export interface CustomCaDemoOptions extends DemoRunOptions {
  /** false skips step 5 (bar's signer as a real step-ca), as `--no-step-ca` does. Default true. */
  stepCa?: boolean;
}

const TOTAL_STEPS = 6;
const STEP_CA_STEP = 'bar served by a real step-ca';

/** Whether step 5 can run: the binary, a reason to skip it, or a failed build (which fails a check). */
type StepCaVerdict = { skip: string } | { error: MeshcaError } | { bin: string };

function stepCaVerdict(wanted: boolean): StepCaVerdict {
  if (!wanted) return { skip: 'turned off with --no-step-ca' };
  try {
    const bin = ensurePeerBinary('step-ca');
    return bin ? { bin } : { skip: peerMissingReason('step-ca') ?? 'step-ca is not available here' };
  } catch (err) {
    if (isMeshcaError(err)) return { error: err };
    throw err;
  }
}

interface Deployed {
  foo: HttpbinDeployment;
  bar: HttpbinDeployment;
  sleeps: { foo: RunningSidecar; bar: RunningSidecar };
}

async function deployWorkloads(ctx: DemoContext, ca: RunningCa): Promise<Deployed> {
  ctx.report.say(
    '  (Istio: kubectl label ns foo bar istio-injection=enabled; kubectl apply -f samples/httpbin/httpbin.yaml -n foo;',
  );
  ctx.report.say('   the same for samples/sleep/sleep.yaml, and both in bar)');
  ctx.report.say(
    `# httpbin's sidecars accept ${MTLS_MODE} traffic, Istio's default (the task applies no PeerAuthentication):`,
  );
  ctx.report.say("#   a refusal below is the calling sidecar's own verdict on httpbin's certificate");
  const [foo, bar] = await inOrder(
    ctx,
    (c) => deployHttpbin(c, { ca, namespace: 'foo' }),
    (c) => deployHttpbin(c, { ca, namespace: 'bar' }),
  );
  const upstreams = upstreamsOf([foo, bar]);
  const [sleepFoo, sleepBar] = await inOrder(
    ctx,
    (c) => startSleepSidecar(c, { ca, namespace: 'foo', tokenFile: foo.sleepToken, upstreams }),
    (c) => startSleepSidecar(c, { ca, namespace: 'bar', tokenFile: bar.sleepToken, upstreams }),
  );
  return { foo, bar, sleeps: { foo: sleepFoo, bar: sleepBar } };
}

async function verifyTask(ctx: DemoContext, signers: TaskSigners, d: Deployed): Promise<void> {
  const { report } = ctx;
  report.say('  (Istio: kubectl exec "$SLEEP_POD_FOO" -n foo -c sleep -- curl http://httpbin.foo:8000/html)');
  await callHttpbin(ctx, { from: 'sleep.foo', sleep: d.sleeps.foo, to: 'httpbin.foo', expect: 'page' });
  report.say('  (Istio: kubectl exec "$SLEEP_POD_FOO" -n foo -c sleep -- curl http://httpbin.bar:8000/html)');
  await callHttpbin(ctx, {
    from: 'sleep.foo',
    sleep: d.sleeps.foo,
    to: 'httpbin.bar',
    expect: 'verify-failed',
    why: 'foo and bar have different signers',
  });
  await callHttpbin(ctx, { from: 'sleep.bar', sleep: d.sleeps.bar, to: 'httpbin.bar', expect: 'page' });

  report.say('\n# the root each proxy holds (Istio: istioctl proxy-config secret … — ROOTCA)');
  for (const ns of ['foo', 'bar'] as const) {
    for (const app of ['httpbin', 'sleep']) {
      await checkRootCert(ctx, {
        workload: `${app}.${ns}`,
        certDir: `${ns}/${app}`,
        rootFile: signers.rootFile[ns],
        signer: ns,
      });
    }
  }
  report.say("\n# openssl's verdict on httpbin.foo's chain: its own signer's root, then the other's");
  await checkVerify(ctx, {
    workload: 'httpbin.foo',
    certDir: 'foo/httpbin',
    rootFile: signers.rootFile.foo,
    expectOk: true,
  });
  await checkVerify(ctx, {
    workload: 'httpbin.foo',
    certDir: 'foo/httpbin',
    rootFile: signers.rootFile.bar,
    expectOk: false,
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Runs the demo; resolves with its exit code (0 all checks passed, 1 failed, 128+N interrupted). */
export async function runCustomCaDemo(o: CustomCaDemoOptions): Promise<number> {
  // step-ca is run by a library, not the process group: stopped on Ctrl-C here and in clean-up.
  let stepCa: RunningStepCa | undefined;
  return runDemoScenario(o, {
    title: `meshca demo custom-ca — Istio's "Custom CA Integration using Kubernetes CSR API" task, on this machine`,
    prefix: 'meshca-demo-custom-ca-',
    totalSteps: TOTAL_STEPS,
    async run(ctx) {
      const { report } = ctx;
      const openssl = await ctx.group.exec('openssl', ['version']);
      report.say(`Judged by ${openssl.stdout.trim()}.`);
      report.say(
        `Step 5 needs smallstep's step-ca (built once from peers/step-ca into .cache/peers; minutes the first time).`,
      );
      const verdict = stepCaVerdict(o.stepCa !== false);
      if ('bin' in verdict) report.say(`step-ca: ${verdict.bin}`);
      else if ('skip' in verdict) report.say(`Step 5 will be skipped: ${verdict.skip}`);
      // Ctrl-C stops the group's children at once; step-ca must not wait for the steps to notice.
      ctx.group.signal.addEventListener('abort', () => {
        if (ctx.group.interruptedBy) void stepCa?.stop();
      });

      report.step(TOTAL_STEPS, 'Three signers — istio-system, foo, bar — and the mesh configuration');
      const signers = await makeTaskSigners(ctx);
      throwIfInterrupted(ctx);

      report.step(TOTAL_STEPS, 'Start the CA as a registration authority for those signers');
      report.say(
        '  (Istio: istioctl install -f ./istio.yaml — istiod with EXTERNAL_CA=ISTIOD_RA_KUBERNETES_API)',
      );
      const ca = await startRegistrationAuthority(ctx, { configDir: CONFIG_DIR, dataDir: DATA_DIR });
      throwIfInterrupted(ctx);

      report.step(TOTAL_STEPS, 'Deploy httpbin and sleep in foo and in bar, with sidecars');
      const deployed = await deployWorkloads(ctx, ca);
      throwIfInterrupted(ctx);

      report.step(TOTAL_STEPS, 'Verify: workloads of one signer talk, workloads of different signers do not');
      await verifyTask(ctx, signers, deployed);
      throwIfInterrupted(ctx);

      report.step(TOTAL_STEPS, `Then the same with ${STEP_CA_STEP}`);
      if ('skip' in verdict) {
        report.skip(`step 5 (${STEP_CA_STEP})`, verdict.skip);
        return;
      }
      if ('error' in verdict) {
        report.check('step-ca is available', false, verdict.error.message);
        return;
      }
      await switchBarToStepCa(ctx, {
        ca,
        signers,
        bar: deployed.bar,
        sleeps: deployed.sleeps,
        upstreams: upstreamsOf([deployed.foo, deployed.bar]),
        started: (s) => {
          stepCa = s;
        },
      });
    },
    async stopOthers(ctx, interrupted) {
      if (!stepCa) return;
      if (!interrupted) ctx.report.command('kill %step-ca   # step-ca, started in step 5');
      await stepCa.stop();
      if (interrupted) return;
      const still = await answers(stepCa.port);
      ctx.report.check(
        'step-ca has exited',
        !still,
        still ? `${stepCa.url} still answers` : `${stepCa.url} no longer answers`,
      );
    },
  });
}
