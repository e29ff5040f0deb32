// Every problem loadMeshConfig reports for the signer kinds (cert-manager's ClusterIssuer and Issuer,
// step-issuer's StepClusterIssuer), with its exact message.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { caBeforeTests, problemsOf, tempDir, write } from './mesh-fixtures.js';

const ca = caBeforeTests('signers');

const clusterIssuer = (name: string, spec: string, kind = 'ClusterIssuer') => `apiVersion: cert-manager.io/v1
kind: ${kind}
metadata:
  name: ${name}
spec:
${spec}`;

describe('cert-manager issuers', () => {
  test('secretName: data directory, paths, missing folders and files', async (t) => {
    const yaml = [
      clusterIssuer('nodatadir', '  ca:\n    secretName: foo-ca\n'),
      clusterIssuer('nokey', '  ca:\n    secretName: ./secrets/nokey\n'),
      clusterIssuer('absent', '  ca:\n    secretName: /nonexistent/meshca-test\n'),
      clusterIssuer('empty', '  {}\n'),
      clusterIssuer('typo', '  ca:\n    secretname: x\n'),
      clusterIssuer('nsless', '  ca:\n    secretName: ./secrets/ok\n', 'Issuer'),
      clusterIssuer('file', '  ca:\n    secretName: ./secrets/ok/tls.crt\n'),
    ].join('---\n');
    const problems = await problemsOf(t, yaml, {
      setup: (dir) => {
        write(join(dir, 'secrets/nokey/tls.crt'), ca.cert);
        write(join(dir, 'secrets/ok/tls.crt'), ca.cert);
        write(join(dir, 'secrets/ok/tls.key'), ca.key);
      },
    });
    assert.deepEqual(problems, [
      '$F: document 1 (ClusterIssuer nodatadir): spec.ca.secretName: "foo-ca" names a secret in the data directory, but no data directory is set; give a path containing "/" instead, or set the data directory',
      "$F: document 2 (ClusterIssuer nokey): spec.ca.secretName: $D/secrets/nokey has no tls.key; put the secret's files there (tls.crt, tls.key)",
      "$F: document 3 (ClusterIssuer absent): spec.ca.secretName: /nonexistent/meshca-test does not exist; create it with the secret's files (tls.crt, tls.key)",
      '$F: document 4 (ClusterIssuer empty): spec.ca: missing; a CA issuer needs spec.ca.secretName',
      '$F: document 5 (ClusterIssuer typo): spec.ca.secretname: unknown field; did you mean "secretName"?',
      '$F: document 5 (ClusterIssuer typo): spec.ca.secretName: missing; name the secret (a folder with tls.crt and tls.key) that holds the CA',
      '$F: document 6 (Issuer nsless): metadata.namespace: missing; an Issuer belongs to a namespace, which is part of its signer name',
      '$F: document 7 (ClusterIssuer file): spec.ca.secretName: $D/secrets/ok/tls.crt is not a directory; a secret is a folder with one file per key (tls.crt, tls.key)',
    ]);
  });

  test('a bare secret name is looked up in <dataDir>/secrets', async (t) => {
    const dataDir = tempDir(t);
    const problems = await problemsOf(t, clusterIssuer('foo', '  ca:\n    secretName: foo-ca\n'), {
      dataDir,
    });
    assert.deepEqual(problems, [
      `$F: document 1 (ClusterIssuer foo): spec.ca.secretName: ${dataDir}/secrets/foo-ca does not exist; create it with the secret's files (tls.crt, tls.key)`,
    ]);
  });

  test('two definitions of one signer', async (t) => {
    const yaml = [
      clusterIssuer('foo', '  ca:\n    secretName: ./secrets/ok\n'),
      clusterIssuer('foo', '  ca:\n    secretName: ./secrets/ok\n'),
    ].join('---\n');
    const problems = await problemsOf(t, yaml, {
      setup: (dir) => {
        write(join(dir, 'secrets/ok/tls.crt'), ca.cert);
        write(join(dir, 'secrets/ok/tls.key'), ca.key);
      },
    });
    assert.deepEqual(problems, [
      '$F: document 2 (ClusterIssuer foo): metadata.name: signer clusterissuers.cert-manager.io/foo is already defined by $F: document 1 (ClusterIssuer foo); rename one',
    ]);
  });
});

const stepIssuer = (name: string, spec: string) => `apiVersion: certmanager.step.sm/v1beta1
kind: StepClusterIssuer
metadata:
  name: ${name}
spec:
${spec}`;

describe('StepClusterIssuer', () => {
  test('url, caBundle, provisioner and password', async (t) => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const yaml = [
      stepIssuer('plain', '  url: http://step.example\n  caBundle: "!!!"\n'),
      stepIssuer(
        'notcert',
        `  url: not a url\n  caBundle: ${b64('hello')}\n  provisioner:\n    name: admin\n    passwordRef: {name: pw, key: a/b}\n`,
      ),
      stepIssuer(
        'nopassword',
        `  url: https://step.example\n  caBundle: ${b64(ca.cert)}\n  provisioner:\n    name: admin\n    kid: abc\n    passwordRef: {name: ./secrets/pw, key: password}\n`,
      ),
      stepIssuer(
        'noref',
        `  url: https://step.example\n  caBundle: ${b64(ca.cert)}\n  provisioner: {name: admin, kid: abc}\n`,
      ),
    ].join('---\n');
    const problems = await problemsOf(t, yaml, {
      setup: (dir) => mkdirSync(join(dir, 'secrets/pw'), { recursive: true }),
    });
    assert.deepEqual(problems, [
      '$F: document 1 (StepClusterIssuer plain): spec.url: "http://step.example" must be an https:// URL (step-ca serves TLS only)',
      '$F: document 1 (StepClusterIssuer plain): spec.caBundle: is not base64; encode the root certificate PEM, e.g. with "base64 -w0 root_ca.crt"',
      '$F: document 1 (StepClusterIssuer plain): spec.provisioner: missing; give the JWK provisioner: name, kid and passwordRef',
      `$F: document 2 (StepClusterIssuer notcert): spec.url: "not a url" is not a URL; give the CA's address, e.g. https://step-certificates.step.svc`,
      '$F: document 2 (StepClusterIssuer notcert): spec.caBundle: holds no "-----BEGIN CERTIFICATE-----" block; paste the CA certificate in PEM form',
      "$F: document 2 (StepClusterIssuer notcert): spec.provisioner.kid: missing; give the provisioner key's kid",
      '$F: document 2 (StepClusterIssuer notcert): spec.provisioner.passwordRef.key: "a/b" is not a key name; give a file name without "/"',
      "$F: document 3 (StepClusterIssuer nopassword): spec.provisioner.passwordRef: $D/secrets/pw has no password; put the secret's files there (password)",
      '$F: document 4 (StepClusterIssuer noref): spec.provisioner.passwordRef: missing; give the secret name and key holding the password',
    ]);
  });
});
