// One round of the agent's work: read the CA roots and the token afresh, ask the CA for a
// certificate with a new key, write Istio's three files. `meshca agent --once` is exactly this.
import { readFile } from 'node:fs/promises';
import { configError, invalidInput } from '../errors.js';
import type { KeyType } from '../pki/types.js';
import { createCaClient } from './ca-client.js';
import { type IssuedCredentials, requestCertificate } from './request-certificate.js';
import { identityFromToken, readWorkloadToken } from './workload-token.js';
import { readCredentials, writeCredentials } from './write-credentials.js';

export interface FetchCredentialsOptions {
  /** `host:port` of the CA. */
  caAddress: string;
  /** PEM roots the CA's serving certificate chains to; or caRootsFile. */
  caRootsPem?: string;
  /** A file of PEM roots, re-read on every round so a rotated CA root can be added without a restart. */
  caRootsFile?: string;
  /** Name checked in the CA's certificate (default istiod.istio-system.svc, as Istio's agent). */
  caServerName?: string;
  /** Re-read on every round: the token may have been refreshed. */
  tokenFile: string;
  /** When absent, taken from the token's `sub` claim. */
  namespace?: string;
  serviceAccount?: string;
  trustDomain: string;
  keyType: KeyType;
  ttlSeconds?: number;
  certSigner?: string;
  clusterId?: string;
  outputDir: string;
  signal?: AbortSignal;
  /** Called just before the CSR goes out (for the request counters); not called when a local step fails. */
  onRequest?: () => void;
}

export interface FetchedCredentials {
  issued: IssuedCredentials;
  receivedAt: Date;
  /** root-cert.pem now differs from what was there (true for the first write into an empty directory). */
  rootChanged: boolean;
  /** root-cert.pem replaced an earlier, different root: the CA's root of trust changed. */
  rootReplaced: boolean;
}

async function readRoots(opts: FetchCredentialsOptions): Promise<string> {
  if (opts.caRootsPem !== undefined) return opts.caRootsPem;
  if (opts.caRootsFile === undefined) {
    throw invalidInput(
      'AGENT_NO_CA_ROOTS',
      "no CA roots given; pass --ca-root FILE with the CA's root certificate",
    );
  }
  try {
    return await readFile(opts.caRootsFile, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw configError(
      'AGENT_CA_ROOTS_UNREADABLE',
      `cannot read the CA roots ${opts.caRootsFile} (${e.code ?? 'error'}: ${e.message}); get them with "meshca root-cert > ${opts.caRootsFile}"`,
      err,
    );
  }
}

export async function fetchCredentials(
  opts: FetchCredentialsOptions,
  now: () => Date = () => new Date(),
): Promise<FetchedCredentials> {
  const rootsPem = await readRoots(opts);
  const token = await readWorkloadToken(opts.tokenFile);
  const named =
    opts.namespace && opts.serviceAccount
      ? { namespace: opts.namespace, serviceAccount: opts.serviceAccount }
      : identityFromToken(token, opts.tokenFile);
  let client: ReturnType<typeof createCaClient>;
  try {
    client = createCaClient({
      address: opts.caAddress,
      rootsPem,
      serverName: opts.caServerName,
      // A private connection pool for every round: grpc-js otherwise shares connections between
      // clients process-wide, and a new client could be handed one still in its reconnect backoff
      // from an outage; this way each round is a fresh attempt on the agent's own schedule.
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    });
  } catch (err) {
    throw configError(
      'AGENT_CA_ROOTS_INVALID',
      `the CA roots ${opts.caRootsFile ?? '(given inline)'} cannot be used for TLS (${(err as Error).message}); they must be PEM certificates`,
      err,
    );
  }
  try {
    opts.onRequest?.();
    const issued = await requestCertificate({
      client,
      trustDomain: opts.trustDomain,
      namespace: opts.namespace ?? named.namespace,
      serviceAccount: opts.serviceAccount ?? named.serviceAccount,
      keyType: opts.keyType,
      token,
      ttlSeconds: opts.ttlSeconds,
      certSigner: opts.certSigner,
      clusterId: opts.clusterId,
      signal: opts.signal,
    });
    const receivedAt = now();
    const before = await readCredentials(opts.outputDir);
    const { rootChanged } = await writeCredentials(opts.outputDir, issued);
    return { issued, receivedAt, rootChanged, rootReplaced: rootChanged && before !== undefined };
  } finally {
    client.close();
  }
}
