// Step 5 of the custom-CA demo: namespace bar's signer becomes a real smallstep step-ca (a
// StepClusterIssuer), the CA reloads its configuration, bar's pods restart with step-ca certificates.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine } from '../peers/harness/processes.js';
import { type RunningStepCa, startStepCa } from '../peers/harness/step-ca/start-step-ca.js';
import { stepCaJwkIssuer } from '../peers/harness/step-ca/step-ca-jwk-issuer.js';
import { INTERMEDIATE_FILES, ROOT_FILES } from '../src/index.js';
import { CONFIG_DIR, DATA_DIR, ROOT_VARIABLES, type TaskSigners } from './custom-ca-signers.js';
import { callHttpbin, checkRootCert, checkVerify } from './custom-ca-verify.js';
import {
  type HttpbinDeployment,
  startHttpbinSidecar,
  startSleepSidecar,
  type Upstream,
} from './custom-ca-workloads.js';
import {
  indentPem,
  istioYamlTemplate,
  proxyConfigYaml,
  STEP_ISSUERS,
  stepClusterIssuerYaml,
  TASK_CA_CERTIFICATES,
} from './custom-ca-yaml.js';
import { type DemoContext, inOrder, meshcaShown, throwIfInterrupted, writeDemoFile } from './demo-context.js';
import { execShown } from './exec-shown.js';
import type { RunningCa } from './start-ca.js';
import type { RunningSidecar } from './start-workload.js';
import { writeHeredoc } from './write-heredoc.js';

const CERTS = 'certs/step-ca';
const INTERMEDIATE = 'step';
const PROVISIONER = 'istio';
const PASSWORD_SECRET = { name: 'step-issuer-provisioner', key: 'password' };
const STEP_SIGNER = `${STEP_ISSUERS}/bar`;

export interface StepCaSwitchOptions {
  ca: RunningCa;
  signers: TaskSigners;
  bar: HttpbinDeployment;
  /** The sleeps of foo and bar; bar's is replaced by a restarted one. */
  sleeps: { foo: RunningSidecar; bar: RunningSidecar };
  upstreams: Upstream[];
  /** Told as soon as step-ca runs, so that clean-up stops it whatever happens next. */
  started(stepCa: RunningStepCa): void;
}

/** The root and intermediate step-ca signs with, made as the operator makes any hierarchy here. */
async function makeHierarchy(ctx: DemoContext) {
  await meshcaShown(ctx, ['certs', 'root-ca', '--dir', CERTS, 'ROOTCA_CN=step-ca root']);
  await meshcaShown(ctx, [
    'certs',
    'intermediate',
    INTERMEDIATE,
    '--dir',
    CERTS,
    'INTERMEDIATE_CN=step-ca intermediate',
  ]);
  const read = (file: string) => readFile(join(ctx.dir, CERTS, file), 'utf8');
  return {
    rootCertPem: await read(ROOT_FILES.cert),
    intermediateCertPem: await read(join(INTERMEDIATE, INTERMEDIATE_FILES.cert)),
    intermediateKeyPem: await read(join(INTERMEDIATE, INTERMEDIATE_FILES.key)),
  };
}

async function runStepCa(ctx: DemoContext, o: StepCaSwitchOptions): Promise<RunningStepCa> {
  const hierarchy = await makeHierarchy(ctx);
  // A fresh password per run: it only has to match between step-ca's ca.json and step-issuer's secret.
  const password = randomBytes(18).toString('base64url');
  ctx.report.say(
    `# step-ca's home as "step ca init" leaves it, from those files: a JWK provisioner "${PROVISIONER}" whose key $PROVISIONER_PASSWORD opens`,
  );
  ctx.report.command('step-ca step-ca/ca.json &');
  const stepCa = await startStepCa({
    dir: join(ctx.dir, 'step-ca'),
    ...hierarchy,
    provisioners: [{ type: 'JWK', name: PROVISIONER, password }],
  });
  o.started(stepCa);
  throwIfInterrupted(ctx);
  const issuer = stepCaJwkIssuer(stepCa, PROVISIONER);
  ctx.report.result(
    `step-ca serving on ${stepCa.url}, signing with ${CERTS}/${INTERMEDIATE}/${INTERMEDIATE_FILES.cert}; provisioner "${PROVISIONER}", kid ${issuer.provisioner.kid}`,
  );
  const passwordFile = `${DATA_DIR}/secrets/${PASSWORD_SECRET.name}/${PASSWORD_SECRET.key}`;
  ctx.report.command(`printf %s "$PROVISIONER_PASSWORD" > ${passwordFile}   # the secret passwordRef names`);
  await writeDemoFile(ctx, passwordFile, password, 0o600);
  return stepCa;
}

/** Rewrites the mesh configuration for step-ca and waits for the CA to take it; false when it did not. */
async function reconfigure(
  ctx: DemoContext,
  o: StepCaSwitchOptions,
  stepCa: RunningStepCa,
): Promise<boolean> {
  const { report } = ctx;
  const issuer = stepCaJwkIssuer(stepCa, PROVISIONER);
  report.command(`export STEPCA=$(sed 's/^/        /' ${CERTS}/${ROOT_FILES.cert})`);
  report.command(`export STEPCA_BUNDLE=$(base64 -w0 ${CERTS}/${ROOT_FILES.cert})`);
  const values = {
    ...o.signers.variables,
    STEPCA: indentPem(stepCa.rootPem),
    STEPCA_BUNDLE: Buffer.from(stepCa.rootPem).toString('base64'),
  };
  const entries = TASK_CA_CERTIFICATES.map((e) =>
    e.variable === ROOT_VARIABLES.bar ? { variable: 'STEPCA', signers: [STEP_SIGNER] } : e,
  );
  // Noted before writing, so the wait below sees only the reload this change causes.
  const seen = o.ca.process.logs.length;
  const after = (l: LogLine) => o.ca.process.logs.indexOf(l) >= seen;
  // The three files are written within milliseconds: the CA's watcher waits for quiet, then reloads once.
  await writeHeredoc(
    ctx,
    `${CONFIG_DIR}/step-cluster-issuer.yaml`,
    stepClusterIssuerYaml({
      name: 'bar',
      url: stepCa.url,
      caBundleVariable: 'STEPCA_BUNDLE',
      provisioner: { name: PROVISIONER, kid: issuer.provisioner.kid },
      passwordRef: PASSWORD_SECRET,
    }),
    values,
  );
  await writeHeredoc(ctx, `${CONFIG_DIR}/istio.yaml`, istioYamlTemplate(entries), values);
  await writeHeredoc(ctx, `${CONFIG_DIR}/proxyconfig-bar.yaml`, proxyConfigYaml('bar', STEP_SIGNER));

  report.say(
    '# the CA watches config/ and reloads it (Istio: kubectl apply; istioctl install -f istio.yaml)',
  );
  const reloaded = await o.ca.process
    .waitForLog((l) => l.event === 'config-reloaded' && after(l), 10_000)
    .catch(() => undefined);
  const refused = o.ca.process.logs.filter((l) => l.event === 'config-reload-failed' && after(l)).at(-1);
  const signers = Array.isArray(reloaded?.signers) ? reloaded.signers.join(', ') : '';
  report.result(
    reloaded ? `config-reloaded: signers ${signers}` : `no config-reloaded: ${String(refused?.reason ?? '')}`,
  );
  return report.check(
    `the CA reloaded its configuration (config-reloaded) with signer ${STEP_SIGNER}`,
    reloaded !== undefined && signers.includes(STEP_SIGNER),
    reloaded ? `${signers.split(', ').length} signers` : String(refused?.reason ?? 'nothing within 10 s'),
  );
}

/** bar's pods restart: new sidecars, empty volumes, certificates from whatever signer bar has now. */
async function restartBar(ctx: DemoContext, o: StepCaSwitchOptions): Promise<RunningSidecar> {
  const { bar } = o;
  ctx.report.say('  (Istio: kubectl rollout restart deployment -n bar — new pods, new certificates)');
  ctx.report.command(`kill ${bar.httpbin.process.pid} ${o.sleeps.bar.process.pid}   # bar's sidecars`);
  await Promise.all([bar.httpbin.process.stop(), o.sleeps.bar.process.stop()]);
  ctx.report.command('rm -rf bar/httpbin bar/sleep   # a new pod starts with empty volumes');
  await Promise.all(
    ['bar/httpbin', 'bar/sleep'].map((d) => rm(join(ctx.dir, d), { recursive: true, force: true })),
  );
  // httpbin.bar keeps its mesh port, as a Service keeps its address across pods: sleep.foo still reaches it.
  const [, sleep] = await inOrder(
    ctx,
    (c) =>
      startHttpbinSidecar(c, {
        ca: o.ca,
        namespace: 'bar',
        appPort: bar.appPort,
        tokenFile: bar.httpbinToken,
        port: bar.httpbin.inboundPort,
      }),
    (c) =>
      startSleepSidecar(c, { ca: o.ca, namespace: 'bar', tokenFile: bar.sleepToken, upstreams: o.upstreams }),
  );
  return sleep;
}

/** openssl says who issued bar's new leaf: step-ca's intermediate. */
async function checkIssuer(ctx: DemoContext, certDir: string): Promise<void> {
  const intermediate = `${CERTS}/${INTERMEDIATE}/${INTERMEDIATE_FILES.cert}`;
  const leaf = await execShown(ctx, 'openssl', [
    'x509',
    '-in',
    `${certDir}/cert-chain.pem`,
    '-noout',
    '-issuer',
  ]);
  const ca = await execShown(ctx, 'openssl', ['x509', '-in', intermediate, '-noout', '-subject']);
  const issuer = leaf.stdout.trim().replace(/^issuer=\s*/, '');
  const subject = ca.stdout.trim().replace(/^subject=\s*/, '');
  ctx.report.check(
    `httpbin.bar's new leaf is issued by step-ca's intermediate (${intermediate})`,
    issuer !== '' && issuer === subject,
    `issuer=${issuer}`,
  );
}

export async function switchBarToStepCa(ctx: DemoContext, o: StepCaSwitchOptions): Promise<void> {
  const { report } = ctx;
  report.say(
    '  (Istio: install step-ca and step-issuer; a StepClusterIssuer "bar"; bar\'s ProxyConfig names it)',
  );
  const stepCa = await runStepCa(ctx, o);
  throwIfInterrupted(ctx);
  // Without the new configuration, restarted pods would get bar's old signer: nothing left to show.
  if (!(await reconfigure(ctx, o, stepCa))) return;
  throwIfInterrupted(ctx);
  const sleepBar = await restartBar(ctx, o);
  throwIfInterrupted(ctx);

  await checkIssuer(ctx, 'bar/httpbin');
  const stepRoot = `${CERTS}/${ROOT_FILES.cert}`;
  await checkVerify(ctx, {
    workload: 'httpbin.bar',
    certDir: 'bar/httpbin',
    rootFile: stepRoot,
    expectOk: true,
  });
  await checkRootCert(ctx, {
    workload: 'sleep.bar',
    certDir: 'bar/sleep',
    rootFile: stepRoot,
    signer: 'step-ca',
  });
  await callHttpbin(ctx, {
    from: 'sleep.bar',
    sleep: sleepBar,
    to: 'httpbin.bar',
    expect: 'page',
    why: 'both from step-ca',
  });
  await callHttpbin(ctx, {
    from: 'sleep.foo',
    sleep: o.sleeps.foo,
    to: 'httpbin.bar',
    expect: 'verify-failed',
    why: "foo trusts only foo's root",
  });
}
