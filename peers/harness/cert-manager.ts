// cert-manager against a real API server, for the tests and `meshca demo custom-ca --kubernetes`:
// its CRDs applied from the pinned module's deploy/crds (plain YAML in v1.21.2, no Helm templating),
// the cert-manager namespace, and the controller peer started with the CSR signers' feature gate,
// leader election off and `cert-manager` as its cluster resource namespace.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { unavailable } from '../../src/index.js';
import { ensurePeerBinary, peerMissingReason, peerModuleDir } from './peer-binary.js';
import type { GroupProcess, ProcessGroup } from './processes.js';

/** The namespace of the Secrets ClusterIssuers refer to (cert-manager's default). */
export const CERT_MANAGER_NAMESPACE = 'cert-manager';
/** The Istio task's flag: cert-manager signs Kubernetes CSRs only behind this alpha gate. */
export const CSR_FEATURE_GATE = 'ExperimentalCertificateSigningRequestControllers=true';
const MODULE = 'github.com/cert-manager/cert-manager';

/** Runs kubectl against the cluster; resolves with stdout, rejects on a non-zero exit. */
export type Kubectl = (
  args: readonly string[],
  opts?: { input?: string; timeoutMs?: number },
) => Promise<string>;

/** deploy/crds of the cert-manager module go.mod pins, from Go's module cache (downloaded by the build). */
export function certManagerCrdDir(): string {
  const dir = peerModuleDir('cert-manager');
  if (!dir) {
    throw unavailable(
      'DEMO_PEER_BUILD_FAILED',
      "cert-manager's CRDs come from its Go module; run from a meshca source checkout",
    );
  }
  const run = spawnSync('go', ['list', '-m', '-f', '{{.Dir}}', MODULE], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=readonly' },
  });
  const moduleDir = run.stdout?.trim();
  const crds = moduleDir ? join(moduleDir, 'deploy', 'crds') : '';
  if (run.status !== 0 || !existsSync(crds)) {
    throw unavailable(
      'DEMO_PEER_BUILD_FAILED',
      `cannot find cert-manager's deploy/crds in Go's module cache (go list -m ${MODULE} in peers/cert-manager: ${(run.stderr ?? run.error?.message ?? '').trim() || 'no such folder'}); run node peers/build.mjs cert-manager`,
    );
  }
  return crds;
}

/**
 * Installs cert-manager's CRDs and namespace and starts its controller with `kubeconfig` (an admin's:
 * it writes Secrets and signs CSRs cluster-wide); resolves once the controllers run.
 */
export async function startCertManager(
  group: ProcessGroup,
  opts: { kubeconfig: string; kubectl: Kubectl; timeoutMs?: number },
): Promise<GroupProcess> {
  const bin = ensurePeerBinary('cert-manager');
  if (!bin) {
    throw unavailable(
      'DEMO_PEER_BUILD_FAILED',
      `cert-manager cannot run: ${peerMissingReason('cert-manager') ?? 'its peer was not built'}`,
    );
  }
  const crds = certManagerCrdDir();
  await opts.kubectl(['apply', '--server-side', '-f', crds], { timeoutMs: 60_000 });
  await opts.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', crds], {
    timeoutMs: 70_000,
  });
  await opts
    .kubectl(['create', 'namespace', CERT_MANAGER_NAMESPACE, '--dry-run=client', '-o', 'yaml'])
    .then((yaml) => opts.kubectl(['apply', '-f', '-'], { input: yaml }));
  return group.start(
    bin,
    [
      `--kubeconfig=${opts.kubeconfig}`,
      `--cluster-resource-namespace=${CERT_MANAGER_NAMESPACE}`,
      `--feature-gates=${CSR_FEATURE_GATE}`,
      '--leader-elect=false',
    ],
    {
      name: 'cert-manager',
      ready: (line) => line.msg === 'cert-manager controllers started',
      timeoutMs: opts.timeoutMs ?? 60_000,
    },
  );
}

/**
 * The Istio task's selfsigned-issuer.yaml for one signer: a self-signed ClusterIssuer
 * `selfsigned-<prefix>-issuer`, a CA Certificate `<prefix>-ca` (common name `<issuer>`) it signs into
 * Secret `<prefix>-ca-selfsigned` in the cert-manager namespace, and the CA ClusterIssuer `<issuer>`
 * that signs with it. The task's prefixes: istio (for istio-system), foo, bar.
 */
export function selfSignedCaIssuerYaml(prefix: string, issuer: string): string {
  return `apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned-${prefix}-issuer
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: ${prefix}-ca
  namespace: ${CERT_MANAGER_NAMESPACE}
spec:
  isCA: true
  commonName: ${issuer}
  secretName: ${prefix}-ca-selfsigned
  issuerRef:
    name: selfsigned-${prefix}-issuer
    kind: ClusterIssuer
    group: cert-manager.io
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: ${issuer}
spec:
  ca:
    secretName: ${prefix}-ca-selfsigned
`;
}

/** The task's prefix for a ClusterIssuer's objects: `istio` for istio-system, else the name. */
const taskPrefix = (issuer: string) => (issuer === 'istio-system' ? 'istio' : issuer);

/**
 * Creates the task's issuers and waits until each CA ClusterIssuer is Ready; resolves with each
 * one's root, exported as the task does: the issuer's secretName, then that Secret's ca.crt.
 */
export async function createTaskIssuers(
  kubectl: Kubectl,
  names: readonly string[],
): Promise<Map<string, string>> {
  await kubectl(['apply', '-f', '-'], {
    input: names.map((name) => selfSignedCaIssuerYaml(taskPrefix(name), name)).join('---\n'),
  });
  const roots = new Map<string, string>();
  for (const name of names) {
    await kubectl(['wait', '--for=condition=Ready', '--timeout=90s', `clusterissuers/${name}`], {
      timeoutMs: 100_000,
    });
    const secretName = await kubectl(['get', 'clusterissuers', name, '-o', 'jsonpath={.spec.ca.secretName}']);
    const caCrt = await kubectl([
      'get',
      'secret',
      '-n',
      CERT_MANAGER_NAMESPACE,
      secretName.trim(),
      '-o',
      'jsonpath={.data.ca\\.crt}',
    ]);
    roots.set(name, Buffer.from(caCrt, 'base64').toString('utf8'));
  }
  return roots;
}
