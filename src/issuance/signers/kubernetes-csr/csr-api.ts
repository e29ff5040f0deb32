// What the Kubernetes CSR signer needs from the cluster, as an interface: issuance/ sits below
// kubernetes/, so the signer is written against this and kubernetes/kubernetes-csr-api.ts
// implements it with the one client of the Kubernetes home.

/** The API server refuses expirationSeconds below 600 (certificates.k8s.io/v1 validation). */
export const MIN_CSR_EXPIRATION_SECONDS = 600;

/** Istio's usages for a workload certificate (pkg/security: digital signature, key encipherment, both auths). */
export const WORKLOAD_CSR_USAGES = [
  'digital signature',
  'key encipherment',
  'client auth',
  'server auth',
] as const;

export interface NewCsr {
  /** metadata.name, unique across replicas (csrName()). */
  name: string;
  /** `<CERT_SIGNER_DOMAIN>/<signer>`, e.g. `clusterissuers.cert-manager.io/foo`. */
  signerName: string;
  requestPem: string;
  expirationSeconds: number;
  usages: readonly string[];
}

/** How a CSR ended, as its status says. */
export type CsrOutcome =
  | { kind: 'issued'; certificatePem: string }
  | { kind: 'denied' | 'failed'; reason: string; message: string };

export interface CsrApi {
  /** Creates the CSR; resolves with its uid (for Events on it). */
  create(csr: NewCsr): Promise<{ uid: string }>;
  /** Adds the Approved condition through the /approval subresource. */
  approve(name: string, why: { reason: string; message: string }): Promise<void>;
  /**
   * Resolves once status.certificate is set or a Denied or Failed condition appears, from a watch
   * (never a poll); rejects with the signal's reason when it aborts first.
   */
  outcome(name: string, signal: AbortSignal): Promise<CsrOutcome>;
  /** Deletes the CSR; a CSR already gone is no error. */
  delete(name: string): Promise<void>;
  /** A Warning Event on the CSR, best effort (never rejects). */
  warn(csr: { name: string; uid: string }, event: { reason: string; message: string }): Promise<void>;
}
