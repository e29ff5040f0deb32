// The files a local Kubernetes API server (tests, demos) starts from: its serving and client CAs, its serving
// certificate for 127.0.0.1/localhost, a service-account signing key, the static token of an admin in
// system:masters, and kubeconfig files that kubectl reads.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { opensslCertificate, type TestCertificate } from './openssl-mint.js';

export interface KubeClusterFiles {
  /** Signs the API server's serving certificate: what clients trust. */
  servingCa: TestCertificate;
  /** The API server's --client-ca-file; its key signs client certificates a test may want. */
  clientCa: TestCertificate;
  serving: TestCertificate;
  /** RSA, as kubeadm makes it: --service-account-signing-key-file (private), -key-file (public). */
  serviceAccountKeyFile: string;
  serviceAccountPublicKeyFile: string;
  adminToken: string;
  tokenFile: string;
}

export const ADMIN_USER = 'meshca-test-admin';

const CA_EXTENSIONS =
  'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash';

/** Writes every file the API server needs into `dir`. */
export async function writeKubeClusterFiles(dir: string): Promise<KubeClusterFiles> {
  // The RSA key takes the longest; it is made while openssl makes the certificates.
  const saKey = promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const servingCa = opensslCertificate({
    dir,
    name: 'serving-ca',
    subject: '/O=meshca test/CN=kube-apiserver serving CA',
    extensions: CA_EXTENSIONS,
    days: 7,
  });
  const serving = opensslCertificate({
    dir,
    name: 'apiserver',
    subject: '/CN=kube-apiserver',
    extensions: [
      'basicConstraints=critical,CA:false',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc',
    ].join('\n'),
    issuer: servingCa,
    days: 7,
  });
  const clientCa = opensslCertificate({
    dir,
    name: 'client-ca',
    subject: '/O=meshca test/CN=kube-apiserver client CA',
    extensions: CA_EXTENSIONS,
    days: 7,
  });
  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  // token,user,uid,"groups": system:masters passes every authorization check, as kubeadm's admin does.
  await writeFile(tokenFile, `${adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
  const { publicKey, privateKey } = await saKey;
  const serviceAccountKeyFile = join(dir, 'sa.key');
  const serviceAccountPublicKeyFile = join(dir, 'sa.pub');
  await writeFile(serviceAccountKeyFile, privateKey, { mode: 0o600 });
  await writeFile(serviceAccountPublicKeyFile, publicKey);
  return {
    servingCa,
    clientCa,
    serving,
    serviceAccountKeyFile,
    serviceAccountPublicKeyFile,
    adminToken,
    tokenFile,
  };
}

/**
 * A kubeconfig (JSON, which kubectl reads as YAML) for one user's bearer token against `server`,
 * trusting only the cluster's serving CA.
 */
export async function writeKubeconfig(opts: {
  path: string;
  server: string;
  caCertPem: string;
  user: string;
  token: string;
}): Promise<string> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'meshca-test',
        cluster: {
          server: opts.server,
          'certificate-authority-data': Buffer.from(opts.caCertPem).toString('base64'),
        },
      },
    ],
    users: [{ name: opts.user, user: { token: opts.token } }],
    contexts: [{ name: opts.user, context: { cluster: 'meshca-test', user: opts.user } }],
    'current-context': opts.user,
    preferences: {},
  };
  await writeFile(opts.path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return opts.path;
}
