// `meshca root-cert`: the trust bundle workloads need (what Istio publishes in the
// istio-ca-root-cert ConfigMap), read from the CA's files or, in RA mode, from caCertificates.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority } from '../ca/certificate-authority.js';
import { configError } from '../errors.js';
import { fullSignerName } from '../mesh/full-signer-name.js';
import { rootsForSigner } from '../mesh/roots-for-signer.js';
import { PUBLISHED_ROOTS_FILE } from '../server/publish-trust-bundle.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { resolveServeSettings } from './serve.js';

const spec: CommandSpec = {
  name: 'root-cert',
  summary: 'print the trust bundle (root certificates) that workloads of this CA must trust',
  usage: 'meshca root-cert [--data-dir DIR] [--cacerts DIR] [--config DIR|FILE] [--signer NAME]',
  options: {
    'data-dir': { type: 'string' },
    cacerts: { type: 'string' },
    config: { type: 'string' },
    signer: { type: 'string' },
  },
  optionHelp: [
    "--data-dir DIR      the CA's data directory (default ./.meshca); prints <data-dir>/root-cert.pem, which",
    '                    "meshca serve" keeps current (self-signed or --cacerts), else reads the CA files',
    '--cacerts DIR       a plugged-in CA directory, as given to serve',
    "--config DIR|FILE   the Istio YAML given to serve; with PILOT_CERT_PROVIDER=k8s.io/<signer>, that signer's root",
    '--signer NAME       the roots meshConfig.caCertificates lists for this signer (RA mode)',
  ],
  examples: [
    'meshca root-cert > root-cert.pem',
    'meshca root-cert --cacerts cluster1',
    'meshca root-cert --config istio.yaml --signer clusterissuers.cert-manager.io/foo',
  ],
};

export async function runRootCert(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const settings = await resolveServeSettings(
    {
      'data-dir': str(args.values['data-dir']),
      cacerts: str(args.values.cacerts),
      config: str(args.values.config),
    },
    ctx,
  );
  const config = settings.mesh?.initial.config;
  const provider = config?.pilotCertProvider?.startsWith('k8s.io/')
    ? config.pilotCertProvider.slice('k8s.io/'.length)
    : undefined;
  const signer = str(args.values.signer) ?? provider;
  if (signer) {
    if (!config)
      throw configError('CLI_NO_CONFIG', `--signer needs the mesh configuration: give --config DIR|FILE`);
    const roots = rootsForSigner(config, signer);
    if (roots.length === 0) {
      throw configError(
        'CLI_NO_SIGNER_ROOT',
        `meshConfig.caCertificates lists no root for signer ${fullSignerName(signer, config)}`,
      );
    }
    ctx.out(roots.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''));
    return 0;
  }
  // What a running `meshca serve` on this data directory hands out, unless other CA files are named.
  const published = join(settings.dataDir, PUBLISHED_ROOTS_FILE);
  const cacertsNamed = str(args.values.cacerts) !== undefined || ctx.env.MESHCA_CACERTS !== undefined;
  if (!cacertsNamed && existsSync(published)) {
    ctx.out(readFileSync(published, 'utf8'));
    return 0;
  }
  if (settings.ca.kind === 'self-signed' && !existsSync(settings.ca.dir)) {
    throw configError(
      'CLI_NO_CA',
      `there is no CA in ${settings.dataDir} yet; start "meshca serve" once (it creates the root), or give --cacerts DIR`,
    );
  }
  const ca = await CertificateAuthority.open(settings.ca);
  ctx.out(ca.bundle.rootsPem);
  return 0;
}
