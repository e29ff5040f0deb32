// Step 1 of the custom-CA demo: the task's three cert-manager CA issuers (istio-system, foo, bar), each
// a root made by `meshca certs root-ca` in a secret folder, and the task's istio.yaml and ProxyConfigs.
import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { shellWords } from '../peers/harness/processes.js';
import {
  clusterIssuerYaml,
  indentPem,
  istioYamlTemplate,
  proxyConfigYaml,
  TASK_CA_CERTIFICATES,
} from './custom-ca-yaml.js';
import { type DemoContext, inOrder, meshcaShown } from './demo-context.js';
import { writeHeredoc } from './write-heredoc.js';

export const SIGNERS = ['istio-system', 'foo', 'bar'] as const;
export type SignerName = (typeof SIGNERS)[number];

/** Where the demo keeps the CA's state and its Istio YAML (relative to the demo dir). */
export const DATA_DIR = 'istiod';
export const CONFIG_DIR = 'config';

/** The task's secret names: cert-manager's Certificate for each issuer writes one. */
const SECRET_NAMES: Record<SignerName, string> = {
  'istio-system': 'istio-ca-selfsigned',
  foo: 'foo-ca-selfsigned',
  bar: 'bar-ca-selfsigned',
};

/** The variable the task exports each root to, for `${ISTIOCA}` in istio.yaml. */
export const ROOT_VARIABLES: Record<SignerName, string> = {
  'istio-system': 'ISTIOCA',
  foo: 'FOOCA',
  bar: 'BARCA',
};

export interface TaskSigners {
  /** certs/<signer>/root-cert.pem: each signer's root, what its workloads must trust. */
  rootFile: Record<SignerName, string>;
  /** The `${ISTIOCA}`-style values, for rewriting istio.yaml later. */
  variables: Record<string, string>;
}

/** `meshca certs root-ca` for one signer, its own CN so that every chain says whose it is. */
async function makeRoot(ctx: DemoContext, signer: SignerName): Promise<void> {
  await meshcaShown(ctx, ['certs', 'root-ca', '--dir', `certs/${signer}`, `ROOTCA_CN=${signer} root`]);
}

/** The kubernetes.io/tls secret a CA ClusterIssuer reads, as a folder: tls.crt, tls.key, ca.crt. */
async function secretFolder(ctx: DemoContext, signer: SignerName): Promise<void> {
  const from = `certs/${signer}`;
  const to = `${DATA_DIR}/secrets/${SECRET_NAMES[signer]}`;
  const copies: [string, string][] = [
    ['root-cert.pem', 'tls.crt'],
    ['root-key.pem', 'tls.key'],
    ['root-cert.pem', 'ca.crt'],
  ];
  ctx.report.command(
    [`mkdir -p ${to}`, ...copies.map(([a, b]) => shellWords(['cp', `${from}/${a}`, `${to}/${b}`]))].join(
      ' && ',
    ),
  );
  await mkdir(join(ctx.dir, to), { recursive: true });
  for (const [a, b] of copies) await copyFile(join(ctx.dir, from, a), join(ctx.dir, to, b));
  await chmod(join(ctx.dir, to, 'tls.key'), 0o600);
}

export async function makeTaskSigners(ctx: DemoContext): Promise<TaskSigners> {
  const { report } = ctx;
  report.say('  (Istio: install cert-manager; kubectl apply -f selfsigned-issuer.yaml — a self-signed CA');
  report.say('   Certificate and a CA ClusterIssuer for each of istio-system, foo and bar)');
  await inOrder(ctx, ...SIGNERS.map((s) => (c: DemoContext) => makeRoot(c, s)));
  report.say("# each root in the secret its ClusterIssuer reads (cert-manager's kubernetes.io/tls secret)");
  for (const s of SIGNERS) await secretFolder(ctx, s);
  await writeHeredoc(
    ctx,
    `${CONFIG_DIR}/cluster-issuers.yaml`,
    SIGNERS.map((s) => clusterIssuerYaml(s, SECRET_NAMES[s])).join('---\n'),
  );

  report.say('# export each root, indented, as the task does (kubectl get secret … | base64 -d | sed …)');
  const variables: Record<string, string> = {};
  const rootFile = {} as Record<SignerName, string>;
  for (const s of SIGNERS) {
    rootFile[s] = `certs/${s}/root-cert.pem`;
    report.command(`export ${ROOT_VARIABLES[s]}=$(sed 's/^/        /' ${rootFile[s]})`);
    variables[ROOT_VARIABLES[s]] = indentPem(await readFile(join(ctx.dir, rootFile[s]), 'utf8'));
  }
  await writeHeredoc(ctx, `${CONFIG_DIR}/istio.yaml`, istioYamlTemplate(TASK_CA_CERTIFICATES), variables);
  report.say(
    '  (Istio: istioctl install -f istio.yaml; then the ProxyConfigs that give foo and bar their signers)',
  );
  for (const ns of ['foo', 'bar'])
    await writeHeredoc(ctx, `${CONFIG_DIR}/proxyconfig-${ns}.yaml`, proxyConfigYaml(ns, ns));
  return { rootFile, variables };
}
