// `meshca token`: a service-account JWT from the embedded issuer, as Kubernetes would project into
// a pod, for agents and tests on a machine without Kubernetes.
import { join, resolve } from 'node:path';
import { invalidInput } from '../errors.js';
import { loadOrCreateTokenIssuer } from '../identity/token-issuer.js';
import { type CommandSpec, list, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { pick } from './settings.js';

const spec: CommandSpec = {
  name: 'token',
  summary:
    'print a Kubernetes-style service-account token signed by the embedded issuer in the data directory',
  usage: 'meshca token --namespace NS --service-account SA [--ttl DUR] [--audience AUD] [--data-dir DIR]',
  options: {
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    ttl: { type: 'string' },
    audience: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
  },
  optionHelp: [
    "-n, --namespace NS          the workload's namespace (required)",
    "--service-account SA        the workload's service account (required)",
    '--ttl DUR                   token lifetime (default 1h)',
    '--audience AUD              audience (repeatable, default istio-ca)',
    "--data-dir DIR              the CA's data directory (env MESHCA_DATA_DIR, default ./.meshca)",
  ],
  examples: [
    'meshca token -n foo --service-account sleep > sleep.jwt',
    'meshca token -n foo --service-account httpbin --ttl 10m',
  ],
};

export async function runToken(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const namespace = str(args.values.namespace);
  const serviceAccount = str(args.values['service-account']);
  if (!namespace || !serviceAccount)
    throw invalidInput('CLI_USAGE', `--namespace and --service-account are required\nUsage: ${spec.usage}`);
  const dataDir = resolve(
    ctx.cwd,
    pick(str(args.values['data-dir']), ctx.env, 'MESHCA_DATA_DIR', '.meshca').value,
  );
  const issuer = await loadOrCreateTokenIssuer(join(dataDir, 'issuer'));
  const audiences = list(args.values.audience);
  const token = await issuer.mint({
    namespace,
    serviceAccount,
    ttlSeconds: parseDurationSeconds(str(args.values.ttl) ?? '1h', '--ttl'),
    audience: audiences.length > 0 ? audiences : 'istio-ca',
  });
  ctx.out(`${token}\n`);
  return 0;
}
