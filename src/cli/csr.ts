// `meshca csr`: get one workload certificate from a running CA from the command line, the way the
// agent does (fresh key, CSR, token), and write Istio's three files or print the chain.
import { resolve } from 'node:path';
import { createCaClient } from '../agent/ca-client.js';
import { requestCertificate } from '../agent/request-certificate.js';
import { writeCredentials } from '../agent/write-credentials.js';
import { invalidInput } from '../errors.js';
import { parseKeyType } from '../pki/keys.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { readInputFile } from './file-errors.js';
import { pick, pickOptional } from './settings.js';

const spec: CommandSpec = {
  name: 'csr',
  summary:
    'request one workload certificate from a meshca (or istiod) CA and write cert-chain.pem, key.pem, root-cert.pem',
  usage:
    'meshca csr --namespace NS --service-account SA (--token JWT | --token-file FILE) --ca-root FILE [options]',
  options: {
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    'ca-addr': { type: 'string' },
    'ca-root': { type: 'string' },
    'trust-domain': { type: 'string' },
    'key-type': { type: 'string' },
    ttl: { type: 'string' },
    'cert-signer': { type: 'string' },
    'cluster-id': { type: 'string' },
    'out-dir': { type: 'string' },
  },
  optionHelp: [
    '-n, --namespace NS / --service-account SA   the identity (must match the token)',
    '--token JWT | --token-file FILE             service-account token (see "meshca token")',
    '--ca-addr HOST:PORT                         the CA (env CA_ADDR, default 127.0.0.1:15012)',
    '--ca-root FILE                              roots the CA\'s certificate chains to (see "meshca root-cert")',
    '--trust-domain TD                           default cluster.local (env TRUST_DOMAIN)',
    '--key-type TYPE                             ec-p256 (default), ec-p384, rsa-2048',
    "--ttl DUR                                   requested lifetime (default: the CA's)",
    '--cert-signer NAME                          signer to ask for (env ISTIO_META_CERT_SIGNER)',
    '--cluster-id ID                             sent as the ClusterID header (env ISTIO_META_CLUSTER_ID)',
    '--out-dir DIR                               write the three files there; without it the chain is printed',
  ],
  examples: [
    'meshca token -n foo --service-account sleep > sleep.jwt',
    'meshca root-cert > root.pem',
    'meshca csr -n foo --service-account sleep --token-file sleep.jwt --ca-root root.pem --out-dir ./sleep-certs',
  ],
};

export async function runCsr(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const v = args.values;
  const namespace = str(v.namespace);
  const serviceAccount = str(v['service-account']);
  const caRoot = str(v['ca-root']);
  let token = str(v.token);
  const tokenFile = str(v['token-file']);
  if (!namespace || !serviceAccount || !caRoot || (!token && !tokenFile)) {
    throw invalidInput(
      'CLI_USAGE',
      `--namespace, --service-account, --ca-root and a token are required\nUsage: ${spec.usage}`,
    );
  }
  if (tokenFile) {
    token = (
      await readInputFile(
        ctx.cwd,
        tokenFile,
        '--token-file',
        'write one with "meshca token -n NS --service-account SA > FILE"',
      )
    ).trim();
  }
  const rootsPem = await readInputFile(
    ctx.cwd,
    caRoot,
    '--ca-root',
    'get the roots with "meshca root-cert > FILE"',
  );
  if (!rootsPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw invalidInput(
      'CLI_CA_ROOT_NOT_PEM',
      `--ca-root ${resolve(ctx.cwd, caRoot)} holds no PEM certificate; get the roots with "meshca root-cert > FILE"`,
    );
  }
  const client = createCaClient({
    address: pick(str(v['ca-addr']), ctx.env, 'CA_ADDR', '127.0.0.1:15012').value,
    rootsPem,
  });
  try {
    const issued = await requestCertificate({
      client,
      trustDomain: pick(str(v['trust-domain']), ctx.env, 'TRUST_DOMAIN', 'cluster.local').value,
      namespace,
      serviceAccount,
      keyType: parseKeyType(str(v['key-type']) ?? 'ec-p256'),
      token,
      ttlSeconds: str(v.ttl) ? parseDurationSeconds(str(v.ttl)!, '--ttl') : undefined,
      certSigner: pickOptional(str(v['cert-signer']), ctx.env, 'ISTIO_META_CERT_SIGNER'),
      clusterId: pickOptional(str(v['cluster-id']), ctx.env, 'ISTIO_META_CLUSTER_ID'),
    });
    const outDir = str(v['out-dir']);
    if (outDir) {
      const dir = resolve(ctx.cwd, outDir);
      await writeCredentials(dir, issued);
      ctx.out(
        `${issued.spiffeId} serial ${issued.serialHex}, valid until ${issued.notAfter.toISOString()}\n  ${dir}/cert-chain.pem\n  ${dir}/key.pem\n  ${dir}/root-cert.pem\n`,
      );
    } else {
      ctx.out(issued.certChainPem);
    }
    return 0;
  } finally {
    client.close();
  }
}
