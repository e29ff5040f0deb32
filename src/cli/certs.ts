// `meshca certs …`: Istio's Makefile.selfsigned.mk as a command (root-ca, intermediate /
// <cluster>-cacerts, workload / <ns>-certs, sign-intermediate), plus inspect and verify.
import { resolve } from 'node:path';
import { makeIntermediate } from '../ca/offline/make-intermediate.js';
import { makeRootCa } from '../ca/offline/make-root-ca.js';
import { makeWorkload } from '../ca/offline/make-workload.js';
import {
  DEFAULT_INTERMEDIATE,
  DEFAULT_ROOT,
  DEFAULT_WORKLOAD,
  type IntermediateProfile,
  MAKEFILE_VARIABLES,
  type MakefileVariable,
  type RootProfile,
  type WorkloadProfile,
} from '../ca/offline/profile.js';
import { signIntermediate } from '../ca/offline/sign-intermediate.js';
import { invalidInput } from '../errors.js';
import { parseKeyType } from '../pki/keys.js';
import type { KeyType } from '../pki/types.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import { runCertsInspect } from './certs-inspect.js';
import { runCertsVerify } from './certs-verify.js';
import type { CliContext } from './context.js';
import { keySource, tokenKeyRef } from './pkcs11-settings.js';
import { SettingsProblems } from './settings.js';

const flagOf = (v: MakefileVariable) => v.toLowerCase().replaceAll('_', '-');

const spec: CommandSpec = {
  name: 'certs',
  summary: "make and check an offline CA hierarchy with Istio's file names and layout",
  usage:
    'meshca certs <root-ca | intermediate NAME | NAME-cacerts | workload NS | NS-certs | sign-intermediate | inspect FILE… | verify …> [options] [VAR=value …]',
  allowPositionals: true,
  options: {
    dir: { type: 'string', short: 'd' },
    'key-type': { type: 'string' },
    force: { type: 'boolean' },
    'csr-only': { type: 'boolean' },
    'root-cert': { type: 'string' },
    'root-key': { type: 'string' },
    key: { type: 'string' },
    csr: { type: 'string' },
    out: { type: 'string' },
    ...Object.fromEntries(MAKEFILE_VARIABLES.map((v) => [flagOf(v), { type: 'string' as const }])),
  },
  optionHelp: [
    '-d, --dir DIR            where the hierarchy lives (default: the current directory)',
    '--key-type TYPE          ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096; *_KEYSZ=N means rsa-N',
    '--force                  replace existing keys and certificates',
    '--csr-only               intermediate: write the key and a CSR only, for a root kept elsewhere',
    '--root-cert/--root-key/--csr/--out   sign-intermediate: the root pair, the CSR, the output dir',
    '--key URI                root-ca, intermediate: make the key inside a PKCS#11 token (RFC 7512 URI, e.g.',
    '                         pkcs11:token=meshca;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/meshca/pin);',
    '                         sensitive and not extractable, so no root-key.pem / ca-key.pem is written',
    '--root-key FILE|URI      intermediate, sign-intermediate: the root key, a file or a pkcs11: URI (default root-key.pem)',
    '--rootca-days N (3650)  --rootca-keysz BITS  --rootca-org (Istio)  --rootca-cn ("Root CA")',
    '--intermediate-days N (3650)  --intermediate-keysz BITS  --intermediate-org (Istio)',
    '--intermediate-cn ("Intermediate CA")  --intermediate-san-dns (istiod.istio-system.svc, comma-separated)',
    '--workload-days N (1)  --service-account SA (default)  --trust-domain TD (cluster.local)',
    'Each variable may also be given as an environment variable or as VAR=value, like make.',
  ],
  examples: [
    'meshca certs root-ca                      # root-cert.pem root-key.pem root-ca.conf root-cert.csr',
    'meshca certs cluster1-cacerts             # cluster1/{ca-cert,ca-key,cert-chain,root-cert}.pem',
    'meshca certs intermediate east --key-type rsa-4096',
    'meshca certs workload foo --service-account httpbin   # foo/{workload-cert,key,workload-cert-chain}.pem',
    'meshca certs intermediate west --csr-only && meshca certs sign-intermediate --root-cert root-cert.pem --root-key root-key.pem --csr west/cluster-ca.csr',
    'meshca certs root-ca --key "pkcs11:token=meshca;object=root-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/meshca/pin"',
    'meshca certs inspect cluster1/ca-cert.pem',
    'meshca certs verify --root root-cert.pem --chain cluster1/cert-chain.pem leaf.pem',
  ],
};

function makeVars(
  values: Record<string, unknown>,
  positionals: string[],
  env: NodeJS.ProcessEnv,
): { vars: Map<MakefileVariable, string>; rest: string[] } {
  const vars = new Map<MakefileVariable, string>();
  for (const v of MAKEFILE_VARIABLES) if (env[v]) vars.set(v, env[v]!);
  const rest: string[] = [];
  for (const p of positionals) {
    const m = /^([A-Z_]+)=(.*)$/.exec(p);
    if (m && (MAKEFILE_VARIABLES as readonly string[]).includes(m[1]!))
      vars.set(m[1] as MakefileVariable, m[2]!);
    else rest.push(p);
  }
  for (const v of MAKEFILE_VARIABLES) {
    const flag = str(values[flagOf(v)]);
    if (flag !== undefined) vars.set(v, flag);
  }
  return { vars, rest };
}

function positiveInt(text: string, name: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0)
    throw invalidInput('CLI_BAD_NUMBER', `${name}=${text} is not a positive whole number`);
  return Number(text);
}

function keyTypeFrom(
  keysz: string | undefined,
  flag: KeyType | undefined,
  name: string,
  fallback: KeyType,
): KeyType {
  if (flag !== undefined) return flag;
  if (keysz !== undefined) return parseKeyType(`rsa-${keysz}`, `${name}=${keysz} (use 2048, 3072 or 4096)`);
  return fallback;
}

function profiles(
  vars: Map<MakefileVariable, string>,
  keyTypeFlag: string | undefined,
  problems: SettingsProblems,
) {
  const get = (v: MakefileVariable) => vars.get(v);
  // Parsed once, so a bad --key-type is reported once, not once per profile; it beats any *_KEYSZ.
  const flagType =
    keyTypeFlag === undefined
      ? undefined
      : problems.try(() => parseKeyType(keyTypeFlag), DEFAULT_ROOT.keyType);
  const root: RootProfile = {
    days: problems.try(
      () => positiveInt(get('ROOTCA_DAYS') ?? String(DEFAULT_ROOT.days), 'ROOTCA_DAYS'),
      DEFAULT_ROOT.days,
    ),
    keyType: problems.try(
      () => keyTypeFrom(get('ROOTCA_KEYSZ'), flagType, 'ROOTCA_KEYSZ', DEFAULT_ROOT.keyType),
      DEFAULT_ROOT.keyType,
    ),
    subject: {
      O: get('ROOTCA_ORG') ?? DEFAULT_ROOT.subject.O,
      CN: get('ROOTCA_CN') ?? DEFAULT_ROOT.subject.CN,
    },
  };
  const intermediate: IntermediateProfile = {
    days: problems.try(
      () => positiveInt(get('INTERMEDIATE_DAYS') ?? String(DEFAULT_INTERMEDIATE.days), 'INTERMEDIATE_DAYS'),
      DEFAULT_INTERMEDIATE.days,
    ),
    keyType: problems.try(
      () =>
        keyTypeFrom(get('INTERMEDIATE_KEYSZ'), flagType, 'INTERMEDIATE_KEYSZ', DEFAULT_INTERMEDIATE.keyType),
      DEFAULT_INTERMEDIATE.keyType,
    ),
    org: get('INTERMEDIATE_ORG') ?? DEFAULT_INTERMEDIATE.org,
    cn: get('INTERMEDIATE_CN') ?? DEFAULT_INTERMEDIATE.cn,
    sanDns: (get('INTERMEDIATE_SAN_DNS') ?? DEFAULT_INTERMEDIATE.sanDns.join(','))
      .split(/[,\s]+/)
      .filter(Boolean),
  };
  const workload: WorkloadProfile = {
    days: problems.try(
      () => positiveInt(get('WORKLOAD_DAYS') ?? String(DEFAULT_WORKLOAD.days), 'WORKLOAD_DAYS'),
      DEFAULT_WORKLOAD.days,
    ),
    keyType: flagType ?? DEFAULT_WORKLOAD.keyType,
    serviceAccount: get('SERVICE_ACCOUNT') ?? DEFAULT_WORKLOAD.serviceAccount,
    trustDomain: get('TRUST_DOMAIN') ?? DEFAULT_WORKLOAD.trustDomain,
  };
  return { root, intermediate, workload };
}

function printFiles(ctx: CliContext, what: string, files: string[]): void {
  ctx.out(`${what}\n${files.map((f) => `  ${f}`).join('\n')}\n`);
}

export async function runCerts(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'inspect') return runCertsInspect(rest, ctx);
  if (sub === 'verify') return runCertsVerify(rest, ctx);
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const { vars, rest: positionals } = makeVars(args.values, args.positionals, ctx.env);
  const [target, name, ...extra] = positionals;
  const problems = new SettingsProblems();
  const { root, intermediate, workload } = profiles(vars, str(args.values['key-type']), problems);
  const dir = resolve(ctx.cwd, str(args.values.dir) ?? '.');
  const force = args.values.force === true;
  if (!target)
    problems.add(
      'name what to make: root-ca, intermediate NAME, NAME-cacerts, workload NS, sign-intermediate, inspect or verify',
    );
  if (extra.length > 0) problems.add(`unexpected arguments: ${extra.join(' ')}`);
  const keyText = str(args.values.key);
  const tokenKey = keyText === undefined ? undefined : tokenKeyRef(keyText, ctx, problems, '--key');
  const rootKeyText = str(args.values['root-key']);
  const rootKey = rootKeyText === undefined ? undefined : keySource(rootKeyText, dir, ctx, problems);
  const isIntermediate = target === 'intermediate' || target?.endsWith('-cacerts');
  if (keyText !== undefined && target !== 'root-ca' && !isIntermediate)
    problems.add('--key applies to root-ca and intermediate (the key made in a token)');

  if (target === 'root-ca') {
    problems.throwIfAny('certs');
    const made = await makeRootCa({ dir, profile: root, force, tokenKey });
    printFiles(
      ctx,
      `root CA "${made.certificate.subject}" (${made.certificate.keyDescription}, until ${made.certificate.notAfter.toISOString()}):`,
      made.files,
    );
    return 0;
  }
  const cacerts = target?.endsWith('-cacerts') ? target.slice(0, -'-cacerts'.length) : undefined;
  if (target === 'intermediate' || cacerts) {
    const cluster = cacerts ?? name;
    if (!cluster)
      problems.add('intermediate needs a cluster name, e.g. "meshca certs intermediate cluster1"');
    problems.throwIfAny('certs');
    const made = await makeIntermediate({
      rootDir: dir,
      cluster: cluster!,
      profile: intermediate,
      csrOnly: args.values['csr-only'] === true,
      force,
      tokenKey,
      rootKey,
    });
    if (made.certificate) {
      printFiles(
        ctx,
        `intermediate CA "${made.certificate.subject}" (${made.certificate.keyDescription}), signed by ${dir}/root-cert.pem:`,
        made.files,
      );
    } else {
      printFiles(
        ctx,
        `key and CSR for "${cluster}"; sign the CSR where the root key lives with "meshca certs sign-intermediate":`,
        made.files,
      );
    }
    return 0;
  }
  const nsCerts = target?.endsWith('-certs') ? target.slice(0, -'-certs'.length) : undefined;
  if (target === 'workload' || nsCerts) {
    const namespace = nsCerts ?? name;
    if (!namespace)
      problems.add('workload needs a namespace, e.g. "meshca certs workload foo --service-account httpbin"');
    problems.throwIfAny('certs');
    const made = await makeWorkload({
      rootDir: dir,
      namespace: namespace!,
      profile: workload,
      intermediate,
      force,
    });
    printFiles(ctx, `workload certificate for ${made.spiffeId}:`, made.files);
    return 0;
  }
  if (target === 'sign-intermediate') {
    const rootCert = str(args.values['root-cert']) ?? 'root-cert.pem';
    const csr = str(args.values.csr);
    if (!csr)
      problems.add(
        'sign-intermediate needs --csr FILE (made by "meshca certs intermediate NAME --csr-only")',
      );
    problems.throwIfAny('certs');
    const out = str(args.values.out);
    const made = await signIntermediate({
      rootCert: resolve(dir, rootCert),
      rootKey: rootKey ?? resolve(dir, 'root-key.pem'),
      csr: resolve(dir, csr!),
      outDir: out ? resolve(dir, out) : undefined,
      profile: intermediate,
      force,
    });
    printFiles(
      ctx,
      `signed intermediate "${made.certificate.subject}"; copy these next to its ca-key.pem:`,
      made.files,
    );
    return 0;
  }
  if (target) problems.add(`unknown target "${target}"`);
  problems.throwIfAny('certs');
  return 2;
}
