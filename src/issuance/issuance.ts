// What the server asks of the layer below once a caller is authenticated: "issue this CSR for this
// caller". The default CA mode and registration-authority mode are two implementations.
import type { Caller } from '../identity/caller.js';
import type { ParsedCsr } from '../pki/types.js';

export interface IssueRequest {
  caller: Caller;
  csr: ParsedCsr;
  csrPem: string;
  ttlSeconds: number;
  /** Request metadata `CertSigner`: the signer the workload asks for (RA mode), ignored in CA mode. */
  certSigner?: string;
  requestId: string;
}

export interface IssueResult {
  /** The response: leaf, each intermediate as its own element, the root bundle last. */
  certChain: string[];
  signer: string;
  serialHex?: string;
  spiffeId: string;
}

export interface Issuance {
  issue(request: IssueRequest): Promise<IssueResult>;
  /** The trust bundle workloads get (`meshca root-cert`, the server's TLS roots). */
  rootsPem(): string;
  /**
   * The full name of the configured signer that a `CertSigner` value names, or undefined when it
   * names none this CA knows. Read-only: for metric labels, which may hold configured names only.
   */
  knownSigner(requested: string): string | undefined;
}
