// loadMeshConfig on the signer kinds as their projects document them: cert-manager's CA
// ClusterIssuer and Issuer (Istio's selfsigned-issuer.yaml), and smallstep's StepClusterIssuer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { selfSignedCaIssuerYaml } from '../../peers/harness/cert-manager.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import { makeCa, tempDir, write } from './mesh-fixtures.js';

describe('signers', () => {
  test("the task's selfsigned-issuer.yaml: CA ClusterIssuers become signers, the rest is noted", async (t) => {
    const work = tempDir(t);
    const dataDir = join(work, 'data');
    for (const secret of ['bar-ca-selfsigned', 'foo-ca-selfsigned', 'istio-ca-selfsigned']) {
      const ca = await makeCa(work, secret);
      write(join(dataDir, 'secrets', secret, 'tls.crt'), ca.cert);
      write(join(dataDir, 'secrets', secret, 'tls.key'), ca.key);
    }
    const file = write(
      join(work, 'selfsigned-issuer.yaml'),
      [selfSignedCaIssuerYaml('bar', 'bar'), selfSignedCaIssuerYaml('foo', 'foo')].join('---\n'),
    );
    const { config, notes } = await loadMeshConfig(file, { dataDir });
    assert.deepEqual(config.signers, [
      {
        kind: 'ClusterIssuer',
        name: 'clusterissuers.cert-manager.io/bar',
        secretDir: join(dataDir, 'secrets', 'bar-ca-selfsigned'),
        source: `${file}: document 3 (ClusterIssuer bar)`,
      },
      {
        kind: 'ClusterIssuer',
        name: 'clusterissuers.cert-manager.io/foo',
        secretDir: join(dataDir, 'secrets', 'foo-ca-selfsigned'),
        source: `${file}: document 6 (ClusterIssuer foo)`,
      },
    ]);
    assert.deepEqual(notes, [
      `${file}: document 1 (ClusterIssuer selfsigned-bar-issuer): only CA issuers (spec.ca) are meshca signers; this one is ignored`,
      `${file}: document 2 (Certificate bar-ca): kind Certificate (cert-manager.io/v1) is not read by meshca; ignored`,
      `${file}: document 4 (ClusterIssuer selfsigned-foo-issuer): only CA issuers (spec.ca) are meshca signers; this one is ignored`,
      `${file}: document 5 (Certificate foo-ca): kind Certificate (cert-manager.io/v1) is not read by meshca; ignored`,
    ]);
  });

  test('a namespaced Issuer with a path, and a StepClusterIssuer as step-issuer documents it', async (t) => {
    const work = tempDir(t);
    const dataDir = join(work, 'data');
    const ca = await makeCa(work, 'team');
    write(join(work, 'config', 'team-ca', 'tls.crt'), ca.cert);
    write(join(work, 'config', 'team-ca', 'tls.key'), ca.key);
    const step = await makeCa(work, 'step');
    const passwordFile = write(
      join(dataDir, 'secrets', 'step-certificates-provisioner-password', 'password'),
      'pw\n',
    );
    const file = write(
      join(work, 'config', 'issuers.yaml'),
      `apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca
  namespace: team
spec:
  ca:
    secretName: ./team-ca
    crlDistributionPoints: [http://crl.example]
---
apiVersion: certmanager.step.sm/v1beta1
kind: StepClusterIssuer
metadata:
  name: step-issuer
spec:
  # The CA URL.
  url: https://step-certificates.default.svc.cluster.local
  # The base64 encoded version of the CA root certificate in PEM format.
  caBundle: ${Buffer.from(step.cert).toString('base64')}
  # The provisioner name, kid, and a reference to the provisioner password secret.
  provisioner:
    name: admin
    kid: N6I99Yuk7iGDMk_eW3QaN2admCsrC9UuDN27dlFXUOs
    passwordRef:
      name: step-certificates-provisioner-password
      namespace: step
      key: password
`,
    );
    const { config, notes } = await loadMeshConfig(join(work, 'config'), { dataDir });
    assert.deepEqual(config.signers, [
      {
        kind: 'Issuer',
        name: 'issuers.cert-manager.io/team.ca',
        secretDir: join(work, 'config', 'team-ca'),
        source: `${file}: document 1 (Issuer ca)`,
      },
      {
        kind: 'StepClusterIssuer',
        name: 'stepclusterissuers.certmanager.step.sm/step-issuer',
        url: 'https://step-certificates.default.svc.cluster.local',
        caBundlePem: step.cert,
        provisioner: { name: 'admin', kid: 'N6I99Yuk7iGDMk_eW3QaN2admCsrC9UuDN27dlFXUOs', passwordFile },
        source: `${file}: document 2 (StepClusterIssuer step-issuer)`,
      },
    ]);
    assert.deepEqual(notes, [
      `${file}: document 1 (Issuer ca): ignored by meshca: spec.ca.crlDistributionPoints`,
    ]);
  });
});
