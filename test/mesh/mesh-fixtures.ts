// Shared test material for mesh/: temp directories, certificates minted by the real openssl, and the
// YAML of Istio's "Custom CA Integration using Kubernetes CSR" task, from the demo's templates of it.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import {
  clusterIssuerYaml,
  indentPem,
  istioYamlTemplate,
  proxyConfigYaml,
  TASK_CA_CERTIFICATES,
} from '../../demo/custom-ca-yaml.js';
import { fillTemplate } from '../../demo/write-heredoc.js';
import { makeRootCa } from '../../src/ca/offline/make-root-ca.js';
import { DEFAULT_ROOT } from '../../src/ca/offline/profile.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { MeshConfigError } from '../../src/mesh/mesh-config-error.js';
import { type CaServerFixture, startFixtureServer } from '../support/ca-server-fixture.js';
import { opensslOk } from '../support/openssl.js';
import { makeTempDir } from '../support/temp-dir.js';

/** A fresh directory removed after the test `t`. */
export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = makeTempDir('meshca-mesh-');
  t.after(dir.remove);
  return dir.path;
}

export function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A self-signed CA certificate (PEM) and its key, made by openssl as an independent tool. */
export async function makeCa(dir: string, cn: string): Promise<{ cert: string; key: string }> {
  const certFile = join(dir, `${cn}-ca.crt`);
  const keyFile = join(dir, `${cn}-ca.key`);
  // biome-ignore format: the flags read best in their pairs
  await opensslOk([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/O=meshca test/CN=${cn}`, '-days', '2', '-keyout', keyFile, '-out', certFile,
  ]);
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/** A CA made by makeCa() once, before the file's tests, in a directory removed after them. */
export function caBeforeTests(cn: string): { cert: string; key: string } {
  const ca = { cert: '', key: '' };
  const work = tempDir({ after });
  before(async () => {
    Object.assign(ca, await makeCa(work, cn));
  });
  return ca;
}

/** The task's istio.yaml (demo/custom-ca-yaml.ts), with the three ClusterIssuers' roots filled in. */
export function istioYaml(roots: { istioca: string; fooca: string; barca: string }): string {
  return fillTemplate(istioYamlTemplate(TASK_CA_CERTIFICATES), {
    ISTIOCA: indentPem(roots.istioca),
    FOOCA: indentPem(roots.fooca),
    BARCA: indentPem(roots.barca),
  });
}

export const PROXYCONFIG_BAR = proxyConfigYaml('bar', 'bar');
export const PROXYCONFIG_FOO = proxyConfigYaml('foo', 'foo');

/** Writes the task's three files into `dir` (istio.yaml, proxyconfig-bar.yaml, proxyconfig-foo.yaml). */
export async function writeTaskFiles(
  dir: string,
  work: string,
): Promise<{ istioca: string; fooca: string; barca: string }> {
  const roots = {
    istioca: (await makeCa(work, 'istio-system')).cert,
    fooca: (await makeCa(work, 'foo')).cert,
    barca: (await makeCa(work, 'bar')).cert,
  };
  write(join(dir, 'istio.yaml'), istioYaml(roots));
  write(join(dir, 'proxyconfig-bar.yaml'), PROXYCONFIG_BAR);
  write(join(dir, 'proxyconfig-foo.yaml'), PROXYCONFIG_FOO);
  return roots;
}

/** Loads `yaml` as the only file of a fresh directory and returns the problems, with the file shown as $F. */
export async function problemsOf(
  t: { after(fn: () => void): void },
  yaml: string,
  opts: { dataDir?: string; setup?: (dir: string) => void } = {},
): Promise<string[]> {
  const dir = tempDir(t);
  const file = write(join(dir, 'mesh.yaml'), yaml);
  opts.setup?.(dir);
  const err = await loadMeshConfig(dir, opts).then(
    () => assert.fail('the configuration was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MeshConfigError, String(err));
  assert.equal(err.code, 'MESH_CONFIG_INVALID');
  assert.equal(err.kind, 'config');
  return err.problems.map((p) => p.replaceAll(file, '$F').replaceAll(dir, '$D'));
}

/** The task's three signers, each with a root of its own. */
export const TASK_SIGNERS = ['istio-system', 'foo', 'bar'] as const;

/**
 * The custom-CA task as a CA's data directory: for each signer a root (made by `meshca certs`' own
 * code) in the kubernetes.io/tls secret folder `<dataDir>/secrets/<signer>-ca-selfsigned`, and in
 * `<dataDir>/config` the task's istio.yaml, ProxyConfigs for foo and bar, and the ClusterIssuers.
 * Resolves with each signer's root and the config directory.
 */
export async function writeTaskRegistrationAuthority(
  dataDir: string,
): Promise<{ roots: Record<(typeof TASK_SIGNERS)[number], string>; config: string }> {
  const roots = {} as Record<(typeof TASK_SIGNERS)[number], string>;
  for (const name of TASK_SIGNERS) {
    const dir = join(dataDir, 'secrets', `${name}-ca-selfsigned`);
    mkdirSync(dir, { recursive: true });
    const made = await makeRootCa({
      dir,
      profile: { ...DEFAULT_ROOT, subject: { O: 'cert-manager', CN: `${name} root` } },
    });
    writeFileSync(join(dir, 'tls.crt'), made.certificate.pem);
    writeFileSync(join(dir, 'tls.key'), readFileSync(join(dir, 'root-key.pem')), { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), made.certificate.pem);
    roots[name] = made.certificate.pem;
  }
  const config = join(dataDir, 'config');
  write(
    join(config, 'istio.yaml'),
    istioYaml({ istioca: roots['istio-system'], fooca: roots.foo, barca: roots.bar }),
  );
  write(join(config, 'proxyconfig-foo.yaml'), PROXYCONFIG_FOO);
  write(join(config, 'proxyconfig-bar.yaml'), PROXYCONFIG_BAR);
  write(
    join(config, 'issuers.yaml'),
    TASK_SIGNERS.map((n) => clusterIssuerYaml(n, `${n}-ca-selfsigned`)).join('---\n'),
  );
  return { roots, config };
}

/**
 * A CA server in RA mode for the custom-CA task (writeTaskRegistrationAuthority in a fresh data
 * directory), with each signer's root; its close() also removes the directory.
 */
export async function startTaskRegistrationAuthority(): Promise<{
  ca: CaServerFixture;
  roots: Record<(typeof TASK_SIGNERS)[number], string>;
}> {
  const dataDir = makeTempDir('meshca-ra-');
  const { roots, config } = await writeTaskRegistrationAuthority(dataDir.path);
  const ca = await startFixtureServer({
    dataDir: dataDir.path,
    mesh: {
      path: config,
      initial: await loadMeshConfig(config, { dataDir: dataDir.path }),
      dataDir: dataDir.path,
    },
  });
  const close = async () => {
    await ca.close();
    dataDir.remove();
  };
  return { ca: { ...ca, close }, roots };
}
