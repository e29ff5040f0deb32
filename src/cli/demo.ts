// `meshca demo [plug-in-ca | custom-ca]`: Istio's tasks played out on this machine with real
// processes, checked with the real openssl, so a user can watch what meshca does and that it works.
// The demos live outside src/ (demo/) and are loaded only here, when one is run: no other command
// loads any of their code.
import { resolve } from 'node:path';
import { invalidInput } from '../errors.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';

/** Each demo by name, loaded on demand; the first is the default. */
const DEMOS = {
  'plug-in-ca': async () => (await import('../../demo/plug-in-ca.js')).runPlugInCaDemo,
  'custom-ca': async () => (await import('../../demo/custom-ca.js')).runCustomCaDemo,
};
/** custom-ca --kubernetes: the same task against a real API server and cert-manager. */
const loadKubernetesCustomCa = async () =>
  (await import('../../demo/custom-ca-kubernetes.js')).runCustomCaKubernetesDemo;

const isDemoName = (name: string): name is keyof typeof DEMOS => Object.hasOwn(DEMOS, name);

/** Flags that only some demos have, with the demos that have them. */
const DEMO_FLAGS: Record<string, string[]> = {
  'no-step-ca': ['custom-ca'],
  kubernetes: ['custom-ca'],
  agent: ['plug-in-ca'],
};

const spec: CommandSpec = {
  name: 'demo',
  summary: "play one of Istio's tasks end to end on this machine (no cluster needed), checked with openssl",
  usage:
    'meshca demo [plug-in-ca] [--agent meshca|istio] [--keep] [--dir DIR] [--quiet]\n       meshca demo custom-ca [--no-step-ca | --kubernetes] [--keep] [--dir DIR] [--quiet]',
  allowPositionals: true,
  options: {
    keep: { type: 'boolean' },
    dir: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    'no-step-ca': { type: 'boolean' },
    kubernetes: { type: 'boolean' },
    agent: { type: 'string' },
  },
  optionHelp: [
    'plug-in-ca (default)    Istio\'s "Plug in CA Certificates" task: a root and per-cluster intermediates, the CA,',
    "                        httpbin and sleep with sidecars, openssl's verdict, trust across clusters",
    'custom-ca               Istio\'s "Custom CA Integration using Kubernetes CSR API" task: three signers (istio-system,',
    '                        foo, bar), the CA as a registration authority, httpbin and sleep in foo and bar, foo → bar',
    "                        refused; then bar's signer as a real step-ca (a StepClusterIssuer), reloaded live",
    '--no-step-ca            custom-ca: skip the step-ca step (it is skipped anyway, saying why, where step-ca',
    '                        cannot be built: it needs Go, and is built once from peers/step-ca into .cache/peers)',
    '--kubernetes            custom-ca: the task with the real mechanisms: a Kubernetes API server and cert-manager',
    '                        (built once from peers/; needs Go), its self-signed CA ClusterIssuers, meshca as RA over',
    '                        the CertificateSigningRequest API, sleep.foo → httpbin.foo ok, → httpbin.bar refused',
    "--agent istio           plug-in-ca: the workloads' certificate agent is Istio's own pilot-agent (built once from",
    '                        peers/pilot-agent; needs Go), beside `meshca sidecar --no-agent`; default: meshca',
    '--keep                  leave the working directory (certificates, tokens, openssl output) and print its path',
    '--dir DIR               work in DIR (new or empty) instead of a new temporary directory; emptied unless --keep',
    '-q, --quiet             print only the checks and the summary',
    'Every process the demo starts is stopped at the end and on Ctrl-C. Needs openssl and diff on PATH.',
    'Exit code: 0 every check passed, 1 a check failed (the summary names it), 2 bad usage, 130 interrupted.',
  ],
  examples: [
    'meshca demo                          # or: npm run demo',
    'meshca demo plug-in-ca --keep        # then look at the files it made',
    'meshca demo --dir ./plug-in-ca-demo --keep --quiet',
    "meshca demo plug-in-ca --agent istio  # Istio's pilot-agent fetches the workloads' certificates",
    'meshca demo custom-ca                # RA mode: ClusterIssuers, then step-ca',
    'meshca demo custom-ca --no-step-ca --quiet',
    'meshca demo custom-ca --kubernetes   # API server + cert-manager + the CSR API',
  ],
};

export async function runDemo(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const [name = Object.keys(DEMOS)[0]!, ...extra] = args.positionals;
  if (!isDemoName(name) || extra.length > 0) {
    throw invalidInput(
      'DEMO_UNKNOWN',
      `${isDemoName(name) ? `unexpected arguments: ${extra.join(' ')}` : `no demo named "${name}"`}; demos: ${Object.keys(DEMOS).join(', ')}\nUsage: ${spec.usage}`,
    );
  }
  for (const [flag, demos] of Object.entries(DEMO_FLAGS)) {
    if (args.values[flag] !== undefined && !demos.includes(name)) {
      throw invalidInput(
        'DEMO_FLAG_NOT_FOR_DEMO',
        `--${flag} is a flag of ${demos.join(', ')}, not of ${name}\nUsage: ${spec.usage}`,
      );
    }
  }
  const agent = str(args.values.agent) ?? 'meshca';
  if (agent !== 'meshca' && agent !== 'istio') {
    throw invalidInput('DEMO_BAD_AGENT', `--agent ${agent}: use meshca or istio\nUsage: ${spec.usage}`);
  }
  const dir = str(args.values.dir);
  const demo = args.values.kubernetes === true ? await loadKubernetesCustomCa() : await DEMOS[name]();
  return demo({
    agent,
    out: ctx.out,
    dir: dir === undefined ? undefined : resolve(ctx.cwd, dir),
    keep: args.values.keep === true,
    quiet: args.values.quiet === true,
    env: ctx.env,
    stepCa: args.values['no-step-ca'] !== true,
  });
}
