// The registration authority's plugin kind: a Signer turns an authenticated, authorized and
// validated CSR into a certificate chain. The local CA, step-ca, and later the Kubernetes CSR API
// or a PKCS#11-backed CA are backends of this one interface; server/ never knows which.
import type { ParsedCsr } from '../../pki/types.js';

export interface SignRequest {
  /** The CSR as the workload sent it, and its parsed, signature-checked form. */
  csrPem: string;
  csr: ParsedCsr;
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
   * Signs one request. Rejects with a MeshcaError: `invalid-input` when the signer refused the
   * request itself, `unavailable` when it could not be reached or timed out, `ca-unusable` when it
   * is misconfigured. Honours `signal` (the RA's timeout).
   */
  sign(request: SignRequest, signal: AbortSignal): Promise<SignedChain>;
  /** The roots this signer's chains end in, as PEM, when the backend knows them (for checks and `meshca root-cert`). */
  roots(): Promise<string[]>;
  /** Releases watchers, sockets and timers. */
  close(): Promise<void>;
}
