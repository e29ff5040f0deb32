// Registration-authority mode with Istio's real agent: ISTIO_META_CERT_SIGNER (or the namespace's
// ProxyConfig) picks the signer, the certificate comes from it, and the agent's root-cert.pem holds
// only that signer's root, as meshConfig.caCertificates[].certSigners says.
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  clusterIssuerYaml,
  indentPem,
  istioYamlTemplate,
  proxyConfigYaml,
  TASK_CA_CERTIFICATES,
} from '../../src/demo/custom-ca-yaml.js';
import { pemBlocks } from '../support/mesh-workloads.js';
import { type ServeProcess, startServe } from '../support/meshca-process.js';
import { type RunningPilotAgent, startPilotAgent } from '../support/pilot-agent.js';
import { meshca, openssl, token, type WorkDir, workDir } from './fixture.js';

const SIGNERS = ['istio-system', 'foo', 'bar'] as const;
const VARIABLES = { 'istio-system': 'ISTIOCA', foo: 'FOOCA', bar: 'BARCA' } as const;

describe(
  "RA mode: Istio's agent gets its signer's certificate and only its signer's root",
  { timeout: 120_000 },
  () => {
    let dir: WorkDir;
    let ca: ServeProcess;
    let dataDir: string;
    const roots: Record<string, string> = {};
    const agents: RunningPilotAgent[] = [];

    before(async () => {
      dir = await workDir('ra');
      dataDir = join(dir.path, 'data');
      const config = join(dir.path, 'config');
      await mkdir(config, { recursive: true });
      // The task's three self-signed ClusterIssuers, each a root in the secret it reads.
      for (const signer of SIGNERS) {
        const certs = join(dir.path, 'certs', signer);
        await meshca(['certs', 'root-ca', '--dir', certs, `ROOTCA_CN=${signer} root`]);
        const secret = join(dataDir, 'secrets', `${signer}-ca`);
        await mkdir(secret, { recursive: true, mode: 0o700 });
        await copyFile(join(certs, 'root-cert.pem'), join(secret, 'tls.crt'));
        await copyFile(join(certs, 'root-key.pem'), join(secret, 'tls.key'));
        await chmod(join(secret, 'tls.key'), 0o600);
        await copyFile(join(certs, 'root-cert.pem'), join(secret, 'ca.crt'));
        roots[signer] = await readFile(join(certs, 'root-cert.pem'), 'utf8');
      }
      await writeFile(
        join(config, 'cluster-issuers.yaml'),
        SIGNERS.map((s) => clusterIssuerYaml(s, `${s}-ca`)).join('---\n'),
      );
      let istio = istioYamlTemplate(TASK_CA_CERTIFICATES);
      for (const signer of SIGNERS)
        istio = istio.replace(`\${${VARIABLES[signer]}}`, indentPem(roots[signer]!));
      await writeFile(join(config, 'istio.yaml'), istio);
      // Only bar has a ProxyConfig: its workloads get bar's signer without asking.
      await writeFile(join(config, 'proxyconfig-bar.yaml'), proxyConfigYaml('bar', 'bar'));
      ca = await startServe(['--config', config, '--data-dir', dataDir]);
    });
    after(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await ca?.stop();
      await dir?.remove();
    });

    async function agent(namespace: string, certSigner: string | undefined) {
      const a = await startPilotAgent({
        dir: dir.path,
        caAddress: `127.0.0.1:${ca.grpcPort}`,
        // PILOT_CERT_PROVIDER=k8s.io/…/istio-system: the CA's TLS certificate chains to istio-system's root.
        caRootPem: await meshca(['root-cert', '--config', join(dir.path, 'config'), '--data-dir', dataDir]),
        token: await token(dataDir, namespace, 'httpbin'),
        namespace,
        serviceAccount: 'httpbin',
        ...(certSigner ? { certSigner } : {}),
      });
      agents.push(a);
      return a;
    }

    /** The agent's leaf is signed by `signer`'s root, and root-cert.pem is that root alone. */
    async function assertFromSigner(a: RunningPilotAgent, signer: (typeof SIGNERS)[number]): Promise<void> {
      const files = await a.waitForFiles();
      assert.deepEqual(
        pemBlocks(files.rootsPem),
        pemBlocks(roots[signer]!),
        `root-cert.pem is ${signer}'s root only`,
      );
      await writeFile(join(a.workDir, 'signer-root.pem'), roots[signer]!);
      await writeFile(join(a.workDir, 'leaf.pem'), pemBlocks(files.chainPem)[0]!);
      assert.equal(
        openssl(['verify', '-CAfile', 'signer-root.pem', 'leaf.pem'], a.workDir),
        'leaf.pem: OK\n',
      );
      assert.match(files.leaf.issuer, new RegExp(`CN=${signer} root`));
      for (const other of SIGNERS.filter((s) => s !== signer)) {
        assert.ok(!files.rootsPem.includes(pemBlocks(roots[other]!)[0]!), `${other}'s root is not given`);
      }
    }

    test('ISTIO_META_CERT_SIGNER=foo in namespace foo: signed by foo, trusts foo only', async () => {
      await assertFromSigner(await agent('foo', 'foo'), 'foo');
      const issued = await ca.waitForLog((l) => l.msg === 'certificate issued' && l.caller === 'foo/httpbin');
      assert.equal(issued.signer, 'clusterissuers.cert-manager.io/foo');
    });

    test('ISTIO_META_CERT_SIGNER=bar in namespace bar: signed by bar, trusts bar only', async () => {
      await assertFromSigner(await agent('bar', 'bar'), 'bar');
    });

    test("no ISTIO_META_CERT_SIGNER in namespace bar: bar's ProxyConfig picks bar", async () => {
      const logsBefore = ca.logs.length;
      const a = await agent('bar', undefined);
      await assertFromSigner(a, 'bar');
      const issued = ca.logs.slice(logsBefore).find((l) => l.msg === 'certificate issued');
      assert.equal(issued?.signer, 'clusterissuers.cert-manager.io/bar');
    });

    test("bar's workload asking for foo is refused (tenancy): nothing written, PERMISSION_DENIED", async () => {
      const a = await agent('bar', 'foo');
      const failure = await a.waitForLog(
        (l) => /^failed to get certificate/.test(String(l.msg)),
        'a refusal',
      );
      assert.match(String(failure.msg), /code = PermissionDenied/);
      assert.deepEqual(await readdir(a.outputDir), []);
    });
  },
);
