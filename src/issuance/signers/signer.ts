// The plugin kind of issuance/: a Signer turns an authenticated, authorized and validated CSR into a
// certificate chain. The local CA, a cert-manager CA issuer kept on disk, step-ca, and later the
// Kubernetes CSR API or a PKCS#11-backed CA are backends of this one interface; server/ never knows
// which. Every backend runs the one conformance suite, test/issuance/signers/signer.conformance.ts.
import type { ParsedCsr } from '../../pki/types.js';

export interface SignRequest {
  /** The CSR as the workload sent it. */
  csrPem: string;
  /**
   * Its parsed, signature-checked form (pki/parse-csr.ts), which the CA and the RA always pass, having
   * checked it. A backend that needs it parses `csrPem` when it is absent, refusing a malformed one.
   */
  csr?: ParsedCsr;
  /** The identity to certify: always the caller's own, already checked by the RA. */
  spiffeId: string;
  /** Requested lifetime in seconds (already bounded by the CA's maximum). */
  ttlSeconds: number;
  /** Correlates log lines of one request across meshca and the signer. */
  requestId: string;
}

export interface SignedChain {
  /** PEM certificates, leaf first, then intermediates; a trailing root is allowed and removed by the RA. */
  chain: string[];
}

export interface Signer {
  /** Full signer name, e.g. `clusterissuers.cert-manager.io/foo` (Istio's signerName). */
  readonly name: string;
  /**
   * Signs one request: a leaf whose only name is `spiffeId` (never the CSR's), over the CSR's key.
   * Rejects with a MeshcaError whose kind says whose fault it is: `invalid-input` when the request
   * itself is refused (a malformed CSR, its lifetime, its identity), `unavailable` when the backend
   * cannot be reached or does not answer in time, `ca-unusable` or `config` when the backend or its
   * CA is misconfigured or expired. `signal` (the RA's timeout), when given, ends the request early
   * with its reason.
   */
  sign(request: SignRequest, signal?: AbortSignal): Promise<SignedChain>;
  /** The roots this signer's chains end in, as PEM, when the backend knows them (for checks and `meshca root-cert`). */
  roots(): Promise<string[]>;
  /** Releases watchers, sockets and timers. */
  close(): Promise<void>;
}
