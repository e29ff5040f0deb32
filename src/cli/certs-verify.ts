// `meshca certs verify --root ROOTS [--chain CHAIN] [--key KEY] CERT`: OK, or every reason it fails.
import { resolve } from 'node:path';
import { verifyCertificateFiles } from '../ca/offline/verify-files.js';
import { invalidInput } from '../errors.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';

const spec: CommandSpec = {
  name: 'certs verify',
  summary:
    'check a certificate chain as the CA does (and a workload leaf against the SPIFFE X.509-SVID rules)',
  usage: 'meshca certs verify --root ROOTS.pem [--chain CHAIN.pem] [--key KEY.pem] CERT.pem',
  allowPositionals: true,
  options: { root: { type: 'string' }, chain: { type: 'string' }, key: { type: 'string' } },
  optionHelp: [
    '--root FILE    trusted root certificate(s) (required)',
    '--chain FILE   intermediates, in any order',
    '--key FILE     also check that this private key belongs to CERT',
  ],
  examples: [
    'meshca certs verify --root root-cert.pem cluster1/ca-cert.pem',
    'meshca certs verify --root root-cert.pem --chain cluster1/cert-chain.pem --key cluster1/ca-key.pem cluster1/ca-cert.pem',
  ],
};

export async function runCertsVerify(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const root = str(args.values.root);
  const [cert, ...extra] = args.positionals;
  if (!root || !cert || extra.length > 0)
    throw invalidInput('CLI_USAGE', `give --root and exactly one certificate file\nUsage: ${spec.usage}`);
  const at = (p: string | undefined) => (p ? resolve(ctx.cwd, p) : undefined);
  const verdict = await verifyCertificateFiles({
    root: at(root)!,
    chain: at(str(args.values.chain)),
    key: at(str(args.values.key)),
    cert: at(cert)!,
  });
  if (verdict.ok) {
    ctx.out(`${cert}: OK (${verdict.path.map((c) => `"${c.subject || c.uris[0]}"`).join(' → ')})\n`);
    return 0;
  }
  ctx.out(`${cert}: FAILED\n${verdict.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
  return 1;
}
