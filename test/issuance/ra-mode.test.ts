// Registration-authority mode end to end in process: Istio's custom-CA task's YAML, three local
// ClusterIssuers, real gRPC+TLS, and openssl judging which root each chain verifies against.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { clusterIssuerYaml, indentPem } from '../../demo/custom-ca-yaml.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import {
  TASK_SIGNERS as SIGNERS,
  startTaskRegistrationAuthority,
  writeTaskRegistrationAuthority,
} from '../mesh/mesh-fixtures.js';
import {
  assertCallRefused,
  type CaServerFixture,
  startFixtureServer,
  workloadCsr,
} from '../support/ca-server-fixture.js';
import { openssl, opensslCsr } from '../support/openssl.js';
import { makeTempDir } from '../support/temp-dir.js';

async function verifiesAgainst(chain: string[], rootPem: string): Promise<boolean> {
  const tmp = makeTempDir();
  try {
    tmp.write('root.pem', rootPem);
    tmp.write('leaf.pem', chain[0]!);
    const untrusted = chain.slice(1, -1).join('');
    const args = ['verify', '-CAfile', tmp.file('root.pem')];
    if (untrusted) args.push('-untrusted', tmp.write('untrusted.pem', untrusted));
    return (await openssl([...args, tmp.file('leaf.pem')])).status === 0;
  } finally {
    tmp.remove();
  }
}

describe('RA mode with the custom-CA task configuration', () => {
  let ca: CaServerFixture;
  let roots: Record<string, string>;
  before(async () => {
    ({ ca, roots } = await startTaskRegistrationAuthority());
  });
  after(() => ca?.close());

  test("PILOT_CERT_PROVIDER: the CA's own certificate comes from the istio-system signer", async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    const chain = await ca
      .client({ rootsPem: roots['istio-system'] })
      .createCertificate({ csrPem, token: await ca.token('foo', 'sleep') });
    assert.ok(chain.length >= 2);
  });

  test("each namespace gets its own signer's chain and only that signer's root", async () => {
    const client = ca.client({ rootsPem: roots['istio-system'] });
    for (const [namespace, signer] of [
      ['foo', 'foo'],
      ['bar', 'bar'],
      ['default', 'istio-system'],
    ] as const) {
      const { csrPem } = await workloadCsr(namespace, 'sleep');
      const chain = await client.createCertificate({ csrPem, token: await ca.token(namespace, 'sleep') });
      assert.equal(chain.at(-1), roots[signer], `${namespace}: the last element is ${signer}'s root`);
      assert.deepEqual(parseCertificates(chain[0]!)[0]!.uris, [
        `spiffe://cluster.local/ns/${namespace}/sa/sleep`,
      ]);
      for (const other of SIGNERS) {
        assert.equal(
          await verifiesAgainst(chain, roots[other]!),
          other === signer,
          `${namespace}'s chain against ${other}'s root`,
        );
      }
    }
    const issued = ca.logs.filter((l) => l.msg === 'certificate issued').map((l) => l.signer);
    assert.ok(issued.includes('clusterissuers.cert-manager.io/foo'));
  });

  test("tenancy: a foo workload asking for bar's signer is PERMISSION_DENIED naming both", async () => {
    const { csrPem } = await workloadCsr('foo', 'sleep');
    await assertCallRefused(
      ca
        .client({ rootsPem: roots['istio-system'] })
        .createCertificate({ csrPem, token: await ca.token('foo', 'sleep'), certSigner: 'bar' }),
      status.PERMISSION_DENIED,
      /namespace foo may only use signer clusterissuers.cert-manager.io\/foo \(its ProxyConfig\), but the request asked for signer clusterissuers.cert-manager.io\/bar/,
    );
  });

  test("CSRs are validated as Istio's RA does", async () => {
    const key = await generateKey('ec-p256');
    const client = ca.client({ rootsPem: roots['istio-system'] });
    const token = await ca.token('foo', 'sleep');
    const tmp = makeTempDir();
    try {
      const withDns = await opensslCsr(tmp, key, [
        'subjectAltName=URI:spiffe://cluster.local/ns/foo/sa/sleep,DNS:evil.example',
      ]);
      await assertCallRefused(
        client.createCertificate({ csrPem: withDns, token }),
        status.INVALID_ARGUMENT,
        /^the CA answered INVALID_ARGUMENT: unable to validate SAN Identities in CSR: it has DNS, IP or email SANs/,
      );
    } finally {
      tmp.remove();
    }
    const other = buildWorkloadCsr({ key, uri: 'spiffe://cluster.local/ns/foo/sa/httpbin' });
    await assertCallRefused(
      client.createCertificate({ csrPem: other, token }),
      status.INVALID_ARGUMENT,
      /unable to validate SAN Identities in CSR: its URI SAN spiffe:\/\/cluster.local\/ns\/foo\/sa\/httpbin is not the caller's identity/,
    );
  });

  test('an unknown signer says what to configure', async () => {
    const { csrPem } = await workloadCsr('baz', 'sleep');
    await assertCallRefused(
      ca
        .client({ rootsPem: roots['istio-system'] })
        .createCertificate({ csrPem, token: await ca.token('baz', 'sleep'), certSigner: 'nope' }),
      status.INTERNAL,
      /signer clusterissuers.cert-manager.io\/nope is not configured; define a ClusterIssuer or StepClusterIssuer with that name/,
    );
  });
});

describe('RA mode failures', () => {
  test('a signer that never answers times out as UNAVAILABLE; a signer without a root in caCertificates is refused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'meshca-ra-timeout-'));
    const tmp = makeTempDir();
    // A TLS server that accepts and never answers, standing in for a hung step-ca.
    await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=hang',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      tmp.file('k.pem'),
      '-out',
      tmp.file('c.pem'),
    ]);
    const hang = createServer({ key: tmp.read('k.pem'), cert: tmp.read('c.pem') }, () => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = (hang.address() as { port: number }).port;
    try {
      const { roots } = await writeTaskRegistrationAuthority(dataDir);
      await mkdir(join(dataDir, 'secrets', 'step-password'), { recursive: true });
      await writeFile(join(dataDir, 'secrets', 'step-password', 'password'), 'secret\n');
      const config = join(dataDir, 'config.yaml');
      await writeFile(
        config,
        `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    caCertificates:
    - pem: |
${indentPem(roots.foo)}
      certSigners:
      - stepclusterissuers.certmanager.step.sm/hung
  components:
    pilot:
      k8s:
        env:
        - name: EXTERNAL_CA
          value: ISTIOD_RA_KUBERNETES_API
---
${clusterIssuerYaml('foo', 'foo-ca-selfsigned')}---
apiVersion: certmanager.step.sm/v1beta1
kind: StepClusterIssuer
metadata:
  name: hung
spec:
  url: https://127.0.0.1:${port}
  caBundle: ${Buffer.from(tmp.read('c.pem')).toString('base64')}
  provisioner:
    name: meshca
    kid: abc
    passwordRef:
      name: step-password
      key: password
`,
      );
      const ca = await startFixtureServer({
        dataDir,
        signerTimeoutMs: 300,
        mesh: { path: config, initial: await loadMeshConfig(config, { dataDir }), dataDir },
      });
      try {
        const client = ca.client();
        const { csrPem } = await workloadCsr('foo', 'sleep');
        const token = await ca.token('foo', 'sleep');
        await assertCallRefused(
          client.createCertificate({
            csrPem,
            token,
            certSigner: 'stepclusterissuers.certmanager.step.sm/hung',
          }),
          status.UNAVAILABLE,
          /signer stepclusterissuers.certmanager.step.sm\/hung did not sign within 0.3 s/,
        );
        await assertCallRefused(
          client.createCertificate({ csrPem, token, certSigner: 'clusterissuers.cert-manager.io/foo' }),
          status.INTERNAL,
          /signer clusterissuers.cert-manager.io\/foo has no root in meshConfig.caCertificates; add an entry with its root certificate and certSigners: \[clusterissuers.cert-manager.io\/foo\]/,
        );
      } finally {
        await ca.close();
      }
    } finally {
      hang.close();
      tmp.remove();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
