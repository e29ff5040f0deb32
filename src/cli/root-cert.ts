// `meshca root-cert`: the trust bundle workloads need (what Istio publishes in the
// istio-ca-root-cert ConfigMap), read from the CA's files.
import { resolve } from 'node:path';
import { type CaMode, CertificateAuthority } from '../ca/certificate-authority.js';
import { configError } from '../errors.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { resolveServeSettings } from './serve.js';

const spec: CommandSpec = {
  name: 'root-cert',
  summary: 'print the trust bundle (root certificates) that workloads of this CA must trust',
  usage: 'meshca root-cert [--data-dir DIR] [--cacerts DIR]',
  options: { 'data-dir': { type: 'string' }, cacerts: { type: 'string' } },
  optionHelp: [
    "--data-dir DIR   the CA's data directory (default ./.meshca)",
    '--cacerts DIR    a plugged-in CA directory, as given to serve',
  ],
  examples: ['meshca root-cert > root-cert.pem', 'meshca root-cert --cacerts cluster1'],
};

export async function runRootCert(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const settings = resolveServeSettings(
    { 'data-dir': str(args.values['data-dir']), cacerts: str(args.values.cacerts) },
    ctx,
  );
  const mode: CaMode = settings.ca;
  if (mode.kind === 'self-signed') {
    const { existsSync } = await import('node:fs');
    if (!existsSync(resolve(mode.dir))) {
      throw configError(
        'CLI_NO_CA',
        `there is no CA in ${settings.dataDir} yet; start "meshca serve" once (it creates the root), or give --cacerts DIR`,
      );
    }
  }
  const ca = await CertificateAuthority.open(mode);
  ctx.out(ca.bundle.rootsPem);
  return 0;
}
