// Everything made before measuring: the CAs (meshca's own self-signed bootstrap, shared with cfssl so
// both sign with the very same key), the token issuer, and pools of distinct keys, CSRs and tokens.
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeIstioCacerts } from '../../peers/harness/istio-ca.js';
import { CertificateAuthority } from '../../src/ca/certificate-authority.js';
import {
  ISSUER_JWKS_FILE,
  ISSUER_KEY_FILE,
  loadOrCreateTokenIssuer,
} from '../../src/identity/token-issuer.js';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import { issueServingCertificate } from '../../src/pki/issue-serving-certificate.js';
import { encodePrivateKeyPem } from '../../src/pki/keys.js';
import type { KeyType } from '../../src/pki/types.js';

export const TRUST_DOMAIN = 'cluster.local';
export const NAMESPACE = 'bench';

/** One simulated workload: its CSR (own key, own SPIFFE ID) and a token proving that identity. */
export interface Agent {
  csrPem: string;
  token: string;
  spiffeId: string;
  serviceAccount: string;
}

export interface Pools {
  /** Reused round-robin by the steady-load windows. */
  steady: Agent[];
  /** Used once each per burst: a cluster restart where every agent is distinct. */
  burst: Agent[];
}

export interface CaFixture {
  keyType: KeyType;
  /** meshca's --data-dir: ca/ (the self-signed root) and issuer/ (the shared token issuer). */
  dataDir: string;
  certPem: string;
  certFile: string;
  keyFile: string;
  /** cfssl's TLS serving certificate, issued by the same CA for 127.0.0.1. */
  cfsslTls: { certFile: string; keyFile: string };
  /** The same CA in Istio's cacerts layout, for Istio's CA: it signs with this very key and certificate. */
  istioCacertsDir: string;
  /** The shared token issuer's JWKS (meshca's data dir has it): what Istio's CA checks tokens against. */
  jwksFile: string;
}

/**
 * Makes `<work>/<name>/ca` with the code path `meshca serve` uses for its self-signed root, and
 * copies in the shared token issuer so one set of tokens is good for every meshca server.
 */
export async function makeCa(
  work: string,
  name: string,
  keyType: KeyType,
  issuerDir: string,
): Promise<CaFixture> {
  const dataDir = join(work, name);
  const ca = await CertificateAuthority.open({
    kind: 'self-signed',
    dir: join(dataDir, 'ca'),
    trustDomain: TRUST_DOMAIN,
    keyType,
  });
  ca.close();
  mkdirSync(join(dataDir, 'issuer'), { recursive: true, mode: 0o700 });
  for (const file of [ISSUER_KEY_FILE, ISSUER_JWKS_FILE])
    copyFileSync(join(issuerDir, file), join(dataDir, 'issuer', file));

  const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const tlsCert = await issueServingCertificate({
    issuer: ca.bundle.issuer,
    publicKey: tlsKey,
    dnsNames: ['localhost'],
    ips: ['127.0.0.1'],
    ttlSeconds: 24 * 3600,
  });
  const cfsslTls = { certFile: join(dataDir, 'cfssl-tls.pem'), keyFile: join(dataDir, 'cfssl-tls-key.pem') };
  writeFileSync(cfsslTls.certFile, tlsCert.pem);
  writeFileSync(cfsslTls.keyFile, encodePrivateKeyPem(tlsKey), { mode: 0o600 });
  // The root signs leaves itself, as meshca's self-signed CA does: cert-chain.pem is just it.
  const caCertPem = ca.bundle.issuer.certificate.pem;
  const istioCacertsDir = join(dataDir, 'istio-cacerts');
  await writeIstioCacerts(istioCacertsDir, {
    certPem: caCertPem,
    keyPem: readFileSync(join(dataDir, 'ca', 'ca-key.pem'), 'utf8'),
    chainPem: caCertPem,
    rootPem: caCertPem,
  });
  return {
    keyType,
    dataDir,
    certPem: ca.bundle.issuer.certificate.pem,
    certFile: join(dataDir, 'ca', 'ca-cert.pem'),
    keyFile: join(dataDir, 'ca', 'ca-key.pem'),
    cfsslTls,
    istioCacertsDir,
    jwksFile: join(dataDir, 'issuer', ISSUER_JWKS_FILE),
  };
}

/** The token issuer every meshca server under test trusts (its key is copied into each data dir). */
export async function makeIssuer(work: string) {
  const dir = join(work, 'issuer');
  return { dir, issuer: await loadOrCreateTokenIssuer(dir) };
}

/**
 * Distinct EC P-256 keys, Istio-shaped CSRs and tokens, made before any measurement so no window
 * pays for key generation. Tokens live 4 h: longer than any run, shorter than anything real.
 */
export async function makePools(
  issuer: Awaited<ReturnType<typeof makeIssuer>>['issuer'],
  steady: number,
  burst: number,
): Promise<Pools> {
  const make = async (prefix: string, n: number): Promise<Agent[]> => {
    const agents: Agent[] = [];
    for (let i = 0; i < n; i++) {
      const serviceAccount = `${prefix}-${i}`;
      const spiffeId = `spiffe://${TRUST_DOMAIN}/ns/${NAMESPACE}/sa/${serviceAccount}`;
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      const csrPem = buildWorkloadCsr({ key, uri: spiffeId });
      const token = await issuer.mint({ namespace: NAMESPACE, serviceAccount, ttlSeconds: 4 * 3600 });
      agents.push({ csrPem, token, spiffeId, serviceAccount });
    }
    return agents;
  };
  return { steady: await make('steady', steady), burst: await make('burst', burst) };
}

/** cfssl's signing policy: the closest to meshca's workload leaf (client + server auth, 24 h). */
export function writeCfsslConfig(work: string): string {
  const path = join(work, 'cfssl-config.json');
  const config = {
    signing: {
      default: {
        usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'],
        expiry: '24h',
      },
    },
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}
