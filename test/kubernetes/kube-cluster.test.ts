// The test Kubernetes API server (test/support/kube-cluster.ts) does what Istio's plug-in-CA and
// custom-CA tasks ask of a cluster: namespaces, the cacerts Secret from PEM files, ServiceAccount
// tokens for the istio-ca audience, TokenReview, RBAC checks as a service account, and objects that
// outlive a restart of the API server.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { ADMIN_USER, type KubeCluster, startKubeCluster } from '../support/kube-cluster.js';

const CACERTS_FILES = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'];

/** The claims of a JWT (read, not verified: the API server's TokenReview is the judge). */
function jwtClaims(token: string): Record<string, unknown> {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token.slice(0, 40)}…`);
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function tokenReview(token: string, audiences: string[]): string {
  return JSON.stringify({
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token, audiences },
  });
}

describe('a real kube-apiserver with etcd (test/support/kube-cluster.ts)', { timeout: 600_000 }, () => {
  let cluster: KubeCluster;
  before(async () => {
    cluster = await startKubeCluster();
    // Kept in the test output: start-up time matters on a 2-core machine where tests run often.
    process.stdout.write(`# kube cluster ready in ${cluster.startupMs} ms at ${cluster.server}\n`);
  });
  after(() => cluster?.stop());

  test('the admin kubeconfig reaches the server as the static-token admin in system:masters', async () => {
    const review = JSON.parse(
      await cluster.kubectl(['create', '-f', '-', '-o', 'json'], {
        input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      }),
    ) as { status: { userInfo: { username: string; groups: string[] } } };
    assert.equal(review.status.userInfo.username, ADMIN_USER);
    assert.ok(review.status.userInfo.groups.includes('system:masters'), JSON.stringify(review));
    const version = JSON.parse(await cluster.kubectl(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string };
    };
    assert.equal(version.serverVersion.gitVersion, 'v1.36.3');
  });

  test('kubectl create namespace istio-system, then the cacerts Secret from PEM files', async () => {
    assert.equal(
      (await cluster.kubectl(['create', 'namespace', 'istio-system'])).trim(),
      'namespace/istio-system created',
    );
    const fromFiles = CACERTS_FILES.map((f) => `--from-file=${join(SAMPLES_DIR, f)}`);
    assert.equal(
      (
        await cluster.kubectl(['create', 'secret', 'generic', 'cacerts', '-n', 'istio-system', ...fromFiles])
      ).trim(),
      'secret/cacerts created',
    );
    const secret = JSON.parse(
      await cluster.kubectl(['get', 'secret', 'cacerts', '-n', 'istio-system', '-o', 'json']),
    ) as {
      data: Record<string, string>;
    };
    assert.deepEqual(Object.keys(secret.data).sort(), [...CACERTS_FILES].sort());
    for (const file of CACERTS_FILES) {
      assert.equal(
        Buffer.from(secret.data[file]!, 'base64').toString('utf8'),
        readFileSync(join(SAMPLES_DIR, file), 'utf8'),
        `${file} round-trips through the Secret`,
      );
    }
    new X509Certificate(Buffer.from(secret.data['ca-cert.pem']!, 'base64'));
  });

  test('a token for the istio-ca audience: aud holds istio-ca, and TokenReview authenticates it', async () => {
    await cluster.kubectl(['create', 'namespace', 'foo']);
    // No controller-manager runs: a namespace's default ServiceAccount is not made for us.
    await cluster.kubectl(['create', 'serviceaccount', 'default', '-n', 'foo']);
    const token = (
      await cluster.kubectl(['create', 'token', 'default', '-n', 'foo', '--audience', 'istio-ca'])
    ).trim();
    const claims = jwtClaims(token);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    assert.ok(aud.includes('istio-ca'), `aud is ${JSON.stringify(claims.aud)}`);
    assert.equal(claims.iss, cluster.serviceAccountIssuer);
    assert.equal(claims.sub, 'system:serviceaccount:foo:default');

    const accepted = JSON.parse(
      await cluster.kubectl(['create', '-f', '-', '-o', 'json'], { input: tokenReview(token, ['istio-ca']) }),
    ) as {
      status: {
        authenticated?: boolean;
        audiences?: string[];
        user?: { username: string; groups: string[] };
      };
    };
    assert.equal(accepted.status.authenticated, true, JSON.stringify(accepted.status));
    assert.equal(accepted.status.user?.username, 'system:serviceaccount:foo:default');
    assert.deepEqual(accepted.status.audiences, ['istio-ca']);
    assert.ok(accepted.status.user?.groups.includes('system:serviceaccounts:foo'));

    // The same token for another audience is refused, as istiod's check would refuse it.
    const refused = JSON.parse(
      await cluster.kubectl(['create', '-f', '-', '-o', 'json'], {
        input: tokenReview(token, [cluster.serviceAccountIssuer]),
      }),
    ) as { status: { authenticated?: boolean; error?: string } };
    assert.notEqual(refused.status.authenticated, true);
    assert.match(refused.status.error ?? '', /audience/i);
  });

  test('kubectl auth can-i as a service account follows RBAC, impersonated and with its own token', async () => {
    const canI = (...args: string[]) => cluster.kubectlResult(['auth', 'can-i', ...args]);
    const as = '--as=system:serviceaccount:foo:default';
    const before = await canI('create', 'tokenreviews.authentication.k8s.io', as);
    assert.deepEqual([before.code, before.stdout.trim()], [1, 'no'], before.stderr);

    // The bootstrap role Istio's CA is bound to for TokenReview (system:auth-delegator).
    await cluster.kubectl([
      'create',
      'clusterrolebinding',
      'foo-default-auth-delegator',
      '--clusterrole=system:auth-delegator',
      '--serviceaccount=foo:default',
    ]);
    const granted = await canI('create', 'tokenreviews.authentication.k8s.io', as);
    assert.deepEqual([granted.code, granted.stdout.trim()], [0, 'yes'], granted.stderr);
    const secrets = await canI('get', 'secrets', '-n', 'istio-system', as);
    assert.deepEqual([secrets.code, secrets.stdout.trim()], [1, 'no'], secrets.stderr);

    // The service account's own token (default audience: the API server's) through its own kubeconfig.
    const token = (await cluster.kubectl(['create', 'token', 'default', '-n', 'foo'])).trim();
    const kubeconfig = await cluster.kubeconfigFor(token, 'foo-default');
    const own = await cluster.kubectlResult(
      ['auth', 'can-i', 'create', 'tokenreviews.authentication.k8s.io'],
      {
        kubeconfig,
      },
    );
    assert.deepEqual([own.code, own.stdout.trim()], [0, 'yes'], own.stderr);
    const forbidden = await cluster.kubectlResult(['get', 'secret', 'cacerts', '-n', 'istio-system'], {
      kubeconfig,
    });
    assert.equal(forbidden.code, 1);
    assert.match(
      forbidden.stderr,
      /secrets "cacerts" is forbidden: User "system:serviceaccount:foo:default" cannot get resource "secrets"/,
    );
  });

  test('restartApiServer keeps the objects (they live in etcd) and serves on the same address', async () => {
    const server = cluster.server;
    const getSecret = async () =>
      (
        JSON.parse(
          await cluster.kubectl(['get', 'secret', 'cacerts', '-n', 'istio-system', '-o', 'json']),
        ) as {
          metadata: { uid: string; resourceVersion: string };
        }
      ).metadata;
    const before = await getSecret();
    const token = (
      await cluster.kubectl(['create', 'token', 'default', '-n', 'foo', '--audience', 'istio-ca'])
    ).trim();

    await cluster.restartApiServer();

    assert.equal(cluster.server, server);
    const after = await getSecret();
    assert.equal(after.uid, before.uid);
    assert.equal(after.resourceVersion, before.resourceVersion);
    assert.equal(
      (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'foo', '-o', 'name'])).trim(),
      'serviceaccount/default',
    );
    // A token issued before the restart still verifies: the signing key is the same file.
    const review = JSON.parse(
      await cluster.kubectl(['create', '-f', '-', '-o', 'json'], { input: tokenReview(token, ['istio-ca']) }),
    ) as { status: { authenticated?: boolean } };
    assert.equal(review.status.authenticated, true, JSON.stringify(review.status));
  });
});
