// meshca's public library entry: named exports of what other programs embed or call.
export { CaCallError, type CaClient, createCaClient } from './agent/ca-client.js';
export { requestCertificate } from './agent/request-certificate.js';
export { readCredentials, writeCredentials } from './agent/write-credentials.js';
export { CA_SERVICE_NAME, caServiceDefinition } from './api/ca-service.js';
export { type CaMode, CertificateAuthority } from './ca/certificate-authority.js';
export { type Checkpoint, checkpointMessage } from './ca/issuance-log/checkpoint.js';
export { canonicalJson, entryHash, type LogEntry } from './ca/issuance-log/entry.js';
export { type IssuanceLog, openIssuanceLog } from './ca/issuance-log/issuance-log.js';
export {
  readLogEntries,
  type VerifyReport,
  verifyIssuanceLog,
} from './ca/issuance-log/verify-issuance-log.js';
export { makeIntermediate } from './ca/offline/make-intermediate.js';
export { makeRootCa } from './ca/offline/make-root-ca.js';
export { makeWorkload } from './ca/offline/make-workload.js';
export { INTERMEDIATE_FILES, MAKEFILE_VARIABLES, ROOT_FILES } from './ca/offline/profile.js';
export { signIntermediate } from './ca/offline/sign-intermediate.js';
export { loadBundleFromDir } from './ca/read-bundle-files.js';
export { buildSigningBundle, type SigningBundle } from './ca/signing-bundle.js';
export {
  configError,
  type ErrorCode,
  type ErrorKind,
  invalidInput,
  isMeshcaError,
  MeshcaError,
  unavailable,
} from './errors.js';
export { loadOrCreateTokenIssuer } from './identity/token-issuer.js';
export { createTokenVerifier, type TokenVerifier, type TrustedIssuer } from './identity/token-verifier.js';
export type { SignedChain, Signer, SignRequest } from './issuance/signers/signer.js';
export { createStepCaSigner } from './issuance/signers/step-ca-signer.js';
export { PRIVATE_FILE_MODE, writeFileAtomic } from './lib/atomic-file.js';
export { createLogger, type Logger } from './log.js';
export { loadMeshConfig } from './mesh/load-mesh-config.js';
export { peerAuthenticationMode } from './mesh/peer-authentication-mode.js';
export { resolveSigner } from './mesh/resolve-signer.js';
export { rootsForSigner } from './mesh/roots-for-signer.js';
export type { MeshConfig, MeshConfigResult, SignerDefinition } from './mesh/types.js';
export { watchMeshConfig } from './mesh/watch-mesh-config.js';
export { buildWorkloadCsr } from './pki/build-workload-csr.js';
export { issueWorkloadCertificate } from './pki/issue-workload-certificate.js';
export { generateKey, keyFromPrivateKey, readPrivateKey } from './pki/keys.js';
export { parseCertificate, parseCertificates } from './pki/parse-certificate.js';
export { parseCsr } from './pki/parse-csr.js';
export { decodePem, encodePem } from './pki/pem.js';
export { formatWorkloadId, parseSpiffeId, parseWorkloadId } from './pki/spiffe-id.js';
export type { CertificateInfo, Issuer, KeyType, ParsedCsr } from './pki/types.js';
export { verifyChain } from './pki/verify-chain.js';
export { type Sidecar, startSidecar } from './proxy/sidecar.js';
export { watchWorkloadCredentials } from './proxy/workload-credentials.js';
export { type CaServer, startCaServer } from './server/ca-server.js';
