// One issuance, as the agent does it: a fresh key, a CSR for the workload's identity, one call to
// the CA, and the response split into Istio's three files. Keys are never reused.

import { invalidInput } from '../errors.js';
import { buildWorkloadCsr } from '../pki/build-workload-csr.js';
import { encodePrivateKeyPem, generateKey } from '../pki/keys.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { formatWorkloadId } from '../pki/spiffe-id.js';
import type { KeyType } from '../pki/types.js';
import type { CaClient } from './ca-client.js';
import type { WorkloadCredentials } from './write-credentials.js';

export interface CertificateRequestOptions {
  client: CaClient;
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  keyType: KeyType;
  token?: string;
  ttlSeconds?: number;
  certSigner?: string;
  clusterId?: string;
  signal?: AbortSignal;
}

export interface IssuedCredentials extends WorkloadCredentials {
  notBefore: Date;
  notAfter: Date;
  serialHex: string;
  spiffeId: string;
}

export async function requestCertificate(opts: CertificateRequestOptions): Promise<IssuedCredentials> {
  const spiffeId = formatWorkloadId({
    trustDomain: opts.trustDomain,
    namespace: opts.namespace,
    serviceAccount: opts.serviceAccount,
  });
  const key = await generateKey(opts.keyType);
  const csrPem = buildWorkloadCsr({ key, uri: spiffeId });
  const chain = await opts.client.createCertificate({
    csrPem,
    token: opts.token,
    ttlSeconds: opts.ttlSeconds,
    certSigner: opts.certSigner,
    clusterId: opts.clusterId,
    signal: opts.signal,
  });
  if (chain.length < 2) {
    throw invalidInput(
      'AGENT_SHORT_CHAIN',
      `the CA answered with ${chain.length} certificate(s); a chain of leaf … root was expected`,
    );
  }
  const normalized = chain.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`));
  const leaf = parseCertificates(normalized[0]!, 'the issued certificate')[0]!;
  return {
    // Every element, root included, as Istio's agent serves it: `openssl s_client -showcerts`
    // against a workload then shows leaf, intermediate(s) and root, which Istio's task checks.
    certChainPem: normalized.join(''),
    keyPem: encodePrivateKeyPem(key),
    rootsPem: normalized[normalized.length - 1]!,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serialHex: leaf.serialHex,
    spiffeId,
  };
}
