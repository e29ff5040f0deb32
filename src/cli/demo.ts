// `meshca demo [plug-in-ca]`: Istio's tasks played out on this machine with real processes,
// checked with the real openssl, so a user can watch what meshca does and that it works.
import { resolve } from 'node:path';
import { runPlugInCaDemo } from '../demo/plug-in-ca.js';
import { invalidInput } from '../errors.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';

const DEMOS: Record<string, { summary: string; run: typeof runPlugInCaDemo }> = {
  'plug-in-ca': {
    summary:
      'Istio\'s "Plug in CA Certificates" task: root and intermediates, the CA, httpbin and sleep with sidecars, openssl checks, multi-cluster',
    run: runPlugInCaDemo,
  },
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
    ...Object.entries(DEMOS).map(([name, d]) => `${name.padEnd(24)}${d.summary} (the default)`),
    '--keep                  leave the working directory (certificates, tokens, openssl output) and print its path',
    '--dir DIR               work in DIR (new or empty) instead of a new temporary directory',
    '-q, --quiet             print only the checks and the summary',
    'Every process the demo starts is stopped at the end, and on Ctrl-C. Needs openssl and diff on PATH.',
    'Exit code: 0 every check passed, 1 a check failed (named in the summary), 130 interrupted.',
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
  const [name = 'plug-in-ca', ...extra] = args.positionals;
  const demo = DEMOS[name];
  if (!demo || extra.length > 0) {
    throw invalidInput(
      'DEMO_UNKNOWN',
      `${demo ? `unexpected arguments: ${extra.join(' ')}` : `no demo named "${name}"`}; demos: ${Object.keys(DEMOS).join(', ')}\nUsage: ${spec.usage}`,
    );
  }
  const dir = str(args.values.dir);
  return demo.run({
    out: ctx.out,
    dir: dir === undefined ? undefined : resolve(ctx.cwd, dir),
    keep: args.values.keep === true,
    quiet: args.values.quiet === true,
    env: ctx.env,
  });
}
