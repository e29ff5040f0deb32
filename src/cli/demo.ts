// `meshca demo [plug-in-ca]`: Istio's tasks played out on this machine with real processes,
// checked with the real openssl, so a user can watch what meshca does and that it works.
import { resolve } from 'node:path';
import { runPlugInCaDemo } from '../demo/plug-in-ca.js';
import { invalidInput } from '../errors.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';

/** Each demo by name; the first is the default. A custom-CA demo will join it here. */
const DEMOS: Record<string, typeof runPlugInCaDemo> = {
  'plug-in-ca': runPlugInCaDemo,
};

const spec: CommandSpec = {
  name: 'demo',
  summary: "play one of Istio's tasks end to end on this machine (no Kubernetes), checked with openssl",
  usage: 'meshca demo [plug-in-ca] [--keep] [--dir DIR] [--quiet]',
  allowPositionals: true,
  options: {
    keep: { type: 'boolean' },
    dir: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  },
  optionHelp: [
    'plug-in-ca (default)    Istio\'s "Plug in CA Certificates" task: a root and per-cluster intermediates, the CA,',
    "                        httpbin and sleep with sidecars, openssl's verdict, trust across clusters",
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
  ],
};

export async function runDemo(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const [name = Object.keys(DEMOS)[0]!, ...extra] = args.positionals;
  const demo = DEMOS[name];
  if (!demo || extra.length > 0) {
    throw invalidInput(
      'DEMO_UNKNOWN',
      `${demo ? `unexpected arguments: ${extra.join(' ')}` : `no demo named "${name}"`}; demos: ${Object.keys(DEMOS).join(', ')}\nUsage: ${spec.usage}`,
    );
  }
  const dir = str(args.values.dir);
  return demo({
    out: ctx.out,
    dir: dir === undefined ? undefined : resolve(ctx.cwd, dir),
    keep: args.values.keep === true,
    quiet: args.values.quiet === true,
    env: ctx.env,
  });
}
