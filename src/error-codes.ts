// Every error code meshca can produce, with its kind and what it means for the operator. MeshcaError's
// `code` is typed from this table, so a code missing here does not compile; the kind given here is
// the only kind a code is ever thrown with (the shorthands in errors.ts accept only codes of their
// kind). docs/errors.md is generated from it: `npm run docs:errors`.
import type { ErrorKind } from './errors.js';

export interface ErrorCodeInfo {
  readonly kind: ErrorKind;
  /** One line for the operator: what went wrong, in words that do not need the source. */
  readonly meaning: string;
}

export const ERROR_CODES = {
  // agent/: the workload agent (meshca agent, meshca sidecar) and its command line
  AGENT_BAD_GRACE_RATIO: {
    kind: 'invalid-input',
    meaning: 'The renewal grace period ratio is not strictly between 0 and 1.',
  },
  AGENT_BAD_KEY_TYPE: {
    kind: 'invalid-input',
    meaning: 'ECC_CURVE or ECC_SIGNATURE_ALGORITHM names a key type the agent cannot make.',
  },
  AGENT_BAD_TTL: {
    kind: 'invalid-input',
    meaning: 'The certificate lifetime the agent was asked for is not positive.',
  },
  AGENT_CA_ROOTS_INVALID: {
    kind: 'config',
    meaning: 'The CA roots given to the agent cannot be used for TLS; they must be PEM certificates.',
  },
  AGENT_CA_ROOTS_UNREADABLE: {
    kind: 'config',
    meaning: 'The CA roots file given to the agent cannot be read.',
  },
  AGENT_NO_CA_ROOTS: {
    kind: 'invalid-input',
    meaning: "No CA roots were given; pass --ca-root FILE with the CA's root certificate.",
  },
  AGENT_ROUND_FAILED: {
    kind: 'internal',
    meaning: 'Getting a certificate failed in a way meshca did not expect (a bug; please report it).',
  },
  AGENT_SHORT_CHAIN: {
    kind: 'invalid-input',
    meaning: 'The CA answered with fewer certificates than a chain from leaf to root needs.',
  },
  AGENT_STATUS_LISTEN_FAILED: {
    kind: 'unavailable',
    meaning: "The agent's status port cannot be opened (taken, or not allowed); pick another --status-port.",
  },
  AGENT_TOKEN_EMPTY: { kind: 'config', meaning: 'The service-account token file is empty.' },
  AGENT_TOKEN_NO_IDENTITY: {
    kind: 'config',
    meaning:
      "The workload's namespace and service account cannot be read from its token; pass them as flags.",
  },
  AGENT_TOKEN_UNREADABLE: { kind: 'config', meaning: 'The service-account token file cannot be read.' },

  // agent/ca-client.ts: the CA answered a CreateCertificate call with this gRPC status
  CA_CALL_ABORTED: { kind: 'unavailable', meaning: 'The CA aborted the call (ABORTED); it is retried.' },
  CA_CALL_ALREADY_EXISTS: {
    kind: 'internal',
    meaning: 'The CA answered ALREADY_EXISTS, which its certificate service never sends; check --ca-addr.',
  },
  CA_CALL_CANCELLED: {
    kind: 'internal',
    meaning: 'The call to the CA was cancelled before it answered (usually because the agent is stopping).',
  },
  CA_CALL_DATA_LOSS: { kind: 'internal', meaning: "The CA answered DATA_LOSS; see the CA's log." },
  CA_CALL_DEADLINE_EXCEEDED: {
    kind: 'unavailable',
    meaning: 'The CA did not answer within the deadline; check that it is running and not overloaded.',
  },
  CA_CALL_FAILED_PRECONDITION: {
    kind: 'internal',
    meaning: "The CA answered FAILED_PRECONDITION; see the CA's log.",
  },
  CA_CALL_INTERNAL: {
    kind: 'internal',
    meaning: "The CA could not sign (its CA or configuration is unusable, or a bug); see the CA's log.",
  },
  CA_CALL_INVALID_ARGUMENT: {
    kind: 'invalid-input',
    meaning: 'The CA refused the request as invalid (CSR, lifetime or signer); the message says what to fix.',
  },
  CA_CALL_NOT_FOUND: {
    kind: 'internal',
    meaning: "The CA answered NOT_FOUND; check that --ca-addr points at Istio's certificate service.",
  },
  CA_CALL_OUT_OF_RANGE: { kind: 'internal', meaning: "The CA answered OUT_OF_RANGE; see the CA's log." },
  CA_CALL_PERMISSION_DENIED: {
    kind: 'permission-denied',
    meaning: 'The CA accepted the credentials but refused the identity or signer asked for.',
  },
  CA_CALL_RESOURCE_EXHAUSTED: {
    kind: 'unavailable',
    meaning:
      'The CA is at one of its limits (connections, streams, message size); retry, or raise its --limit.',
  },
  CA_CALL_UNAUTHENTICATED: {
    kind: 'unauthenticated',
    meaning:
      "The CA did not accept the workload's token or client certificate; the message gives its reason.",
  },
  CA_CALL_UNAVAILABLE: {
    kind: 'unavailable',
    meaning: 'The CA cannot be reached or is not serving; check --ca-addr, --ca-root and that the CA runs.',
  },
  CA_CALL_UNIMPLEMENTED: {
    kind: 'internal',
    meaning: "The server at --ca-addr does not implement Istio's certificate service.",
  },
  CA_CALL_UNKNOWN: {
    kind: 'internal',
    meaning: "The CA failed the call with UNKNOWN or a status meshca does not know; see the CA's log.",
  },

  // ca/: the CA's own bundle (--cacerts, the data directory)
  CA_BUNDLE_INCOMPLETE: {
    kind: 'config',
    meaning: 'The CA bundle directory lacks one of the files it needs.',
  },
  CA_BUNDLE_INVALID: {
    kind: 'config',
    meaning: 'A file of the CA bundle does not hold the PEM certificates expected, or the roots are empty.',
  },
  CA_CHAIN_INVALID: {
    kind: 'config',
    meaning: 'The CA signing certificate does not verify through cert-chain.pem to a root in root-cert.pem.',
  },
  CA_EXPIRED: {
    kind: 'config',
    meaning: "The CA's signing certificate has expired; issue a new intermediate and plug it in.",
  },
  CA_KEY_MISMATCH: { kind: 'config', meaning: "The CA key does not belong to the CA's signing certificate." },
  CA_NOT_A_CA: {
    kind: 'config',
    meaning: 'The CA signing certificate is not allowed to sign (no CA:TRUE or no keyCertSign).',
  },
  CA_RELOAD_FAILED: {
    kind: 'internal',
    meaning: 'Reloading the CA bundle failed unexpectedly; the previous bundle stays in service.',
  },

  // ca/rotation/: meshca rotate (a staged root change in the data-directory home)
  ROTATION_BUNDLE_INVALID: {
    kind: 'config',
    meaning:
      'The new bundle given to "meshca rotate prepare" cannot be used (incomplete, bad key, or its intermediate does not chain to its root).',
  },
  ROTATION_IN_PROGRESS: {
    kind: 'invalid-input',
    meaning: 'A rotation is already prepared or activated; finish it before preparing another.',
  },
  ROTATION_NO_CA: {
    kind: 'config',
    meaning: 'The data directory holds no trust bundle of a CA yet; start "meshca serve" on it once first.',
  },
  ROTATION_NOT_PREPARED: {
    kind: 'invalid-input',
    meaning: 'The rotate step needs an earlier step first: activate needs prepare, finish needs activate.',
  },
  ROTATION_OLD_CERTIFICATES_VALID: {
    kind: 'unavailable',
    meaning:
      'Certificates issued under the old root are still valid; finish can remove that root once they expire.',
  },
  ROTATION_PENDING: {
    kind: 'unavailable',
    meaning:
      'Workload identities have not received the combined trust bundle yet; wait for their renewal, or activate --force.',
  },
  ROTATION_SAME_ROOT: {
    kind: 'invalid-input',
    meaning:
      'The new bundle has a root the CA already trusts: that is an intermediate renewal (a plain reload), not a root change.',
  },
  ROTATION_STATE_INVALID: {
    kind: 'config',
    meaning: 'The rotation state file in the data directory cannot be read as meshca wrote it.',
  },

  // ca/offline/: meshca certs (root, intermediates, workload certificates, signing a CSR)
  CERTS_BAD_CSR: {
    kind: 'config',
    meaning: 'The intermediate CSR given to sign-intermediate cannot be used.',
  },
  CERTS_BAD_FILE: {
    kind: 'config',
    meaning: 'A CA certificate or key file of the hierarchy cannot be parsed.',
  },
  CERTS_BAD_NAME: {
    kind: 'config',
    meaning: 'The cluster name cannot be used as a directory and certificate name.',
  },
  CERTS_CA_EXPIRED: {
    kind: 'config',
    meaning: 'The CA certificate that would sign has expired; make a new one.',
  },
  CERTS_KEY_MISMATCH: {
    kind: 'config',
    meaning: 'A CA key file does not belong to the CA certificate next to it.',
  },
  CERTS_MISSING_FILE: {
    kind: 'config',
    meaning: 'A file meshca certs needs does not exist or cannot be read.',
  },
  CERTS_NOT_A_CA: { kind: 'config', meaning: 'The certificate that would sign is not a CA certificate.' },
  CERTS_NO_ROOT: {
    kind: 'config',
    meaning: 'There is no root CA in the root directory; run "meshca certs root-ca" first.',
  },
  CERTS_UNREADABLE: { kind: 'config', meaning: 'A CA certificate or key file exists but cannot be read.' },
  CERTS_WOULD_OVERWRITE: {
    kind: 'config',
    meaning: 'Keys or certificates already exist where meshca would write; move them away or pass --force.',
  },

  // ca/pkcs11/: CA keys in a PKCS#11 token (--key, --root-key, --ca-key with a pkcs11: URI)
  PKCS11_BINDING_MISSING: {
    kind: 'config',
    meaning:
      'A pkcs11: key was given but the optional pkcs11js package is not installed; npm install pkcs11js.',
  },
  PKCS11_KEY_EXISTS: {
    kind: 'config',
    meaning:
      'The token already holds a key with the label or id meshca was asked to generate; pick another object=.',
  },
  PKCS11_KEY_NOT_FOUND: {
    kind: 'config',
    meaning:
      "The token holds no private key with the URI's object= label and id=; check the URI (pkcs11-tool --list-objects).",
  },
  PKCS11_KEY_AMBIGUOUS: {
    kind: 'config',
    meaning: 'Several private keys in the token match the URI; add id= or a more exact object= label.',
  },
  PKCS11_KEY_TYPE_MISMATCH: {
    kind: 'config',
    meaning:
      'The key in the token is of another type than the certificate it should sign for (e.g. RSA for an EC certificate).',
  },
  PKCS11_KEY_UNSUPPORTED: {
    kind: 'config',
    meaning: 'The key in the token is not one meshca signs with (EC P-256, EC P-384, RSA 2048-4096).',
  },
  PKCS11_LOGIN_FAILED: {
    kind: 'config',
    meaning:
      "Logging in to the token failed (usually a wrong PIN); fix the PIN in the URI's pin-source file.",
  },
  PKCS11_MODULE_UNLOADABLE: {
    kind: 'config',
    meaning: "The PKCS#11 module named by the URI's module-path cannot be loaded or initialized.",
  },
  PKCS11_OPERATION_FAILED: {
    kind: 'config',
    meaning: 'The token refused an operation meshca asked for (generating a key, reading its attributes).',
  },
  PKCS11_PIN_FILE_LOOSE: {
    kind: 'config',
    meaning: 'The PIN file is readable or writable by others than its owner; chmod 600 it.',
  },
  PKCS11_PIN_FILE_UNREADABLE: { kind: 'config', meaning: "The URI's pin-source file cannot be read." },
  PKCS11_PIN_REQUIRED: {
    kind: 'config',
    meaning: 'The URI gives no PIN; add pin-source=file:/path/to/pin (a 0600 file holding the user PIN).',
  },
  PKCS11_PIN_VALUE_REFUSED: {
    kind: 'config',
    meaning:
      'pin-value= puts the PIN in command lines and logs; use pin-source=file:... (pin-value is for tests only).',
  },
  PKCS11_TOKEN_AMBIGUOUS: {
    kind: 'config',
    meaning: 'Several tokens match the URI; add serial= to name one.',
  },
  PKCS11_TOKEN_NOT_FOUND: {
    kind: 'config',
    meaning:
      "No token matches the URI's token= (and serial=); check the label (softhsm2-util --show-slots, pkcs11-tool -L).",
  },
  PKCS11_TOKEN_UNAVAILABLE: {
    kind: 'unavailable',
    meaning:
      'The token holding the CA key stopped answering (removed, reset or failing); signing resumes when it is back.',
  },
  PKCS11_URI_INVALID: {
    kind: 'invalid-input',
    meaning: 'A pkcs11: URI is malformed or lacks what meshca needs (module-path, object= or id=).',
  },

  // cli/: flags, environment variables and the files they name
  CLI_BAD_ADDRESS: { kind: 'invalid-input', meaning: 'An address flag or variable is not host:port.' },
  CLI_BAD_DURATION: {
    kind: 'invalid-input',
    meaning: 'A duration flag or variable is not a positive duration such as 24h.',
  },
  CLI_BAD_NUMBER: { kind: 'invalid-input', meaning: 'A numeric setting is not a positive whole number.' },
  CLI_BAD_OUTBOUND: {
    kind: 'invalid-input',
    meaning: 'An --outbound flag is not NAME=LISTENPORT:HOST:PORT[:SPIFFE-ID].',
  },
  CLI_BAD_PORT: { kind: 'invalid-input', meaning: 'A port flag is not a port number.' },
  CLI_BAD_SETTINGS: {
    kind: 'invalid-input',
    meaning: "One or more of the command's flags or variables are wrong; every problem is listed.",
  },
  CLI_BAD_WORKERS: {
    kind: 'invalid-input',
    meaning: '--workers (MESHCA_WORKERS) is not a number of workers or auto.',
  },
  CLI_CACERTS_MISSING: {
    kind: 'config',
    meaning: 'The --cacerts directory does not exist or lacks the CA files.',
  },
  CLI_CA_ROOT_NOT_PEM: { kind: 'invalid-input', meaning: 'The --ca-root file holds no PEM certificate.' },
  CLI_FILE_ERROR: {
    kind: 'config',
    meaning: 'A file or directory the command uses cannot be used (missing, not accessible, read-only).',
  },
  CLI_INPUT_FILE: {
    kind: 'invalid-input',
    meaning: 'A file named by a flag cannot be read (missing, a directory, not accessible).',
  },
  CLI_MISSING_FILE: {
    kind: 'invalid-input',
    meaning: 'A certificate file named on the command line cannot be read.',
  },
  CLI_NO_CA: {
    kind: 'config',
    meaning: 'There is no CA in the data directory yet; start "meshca serve" once, or give --cacerts.',
  },
  CLI_NO_CONFIG: { kind: 'config', meaning: '--signer needs the mesh configuration; give --config.' },
  CLI_NO_SIGNER_ROOT: {
    kind: 'config',
    meaning: 'meshConfig.caCertificates lists no root for the signer asked for.',
  },
  CLI_USAGE: {
    kind: 'invalid-input',
    meaning: 'The command line is wrong (an unknown or missing flag or argument); the usage is shown.',
  },

  // demo/: meshca demo plug-in-ca and custom-ca
  DEMO_BAD_AGENT: { kind: 'invalid-input', meaning: '--agent is neither meshca nor istio.' },
  DEMO_COMMAND_FAILED: {
    kind: 'unavailable',
    meaning: 'A command the demo runs exited with a failure; its output is shown.',
  },
  DEMO_COMMAND_NOT_RUN: {
    kind: 'unavailable',
    meaning: 'A program the demo needs cannot be started (for example openssl is not on PATH).',
  },
  DEMO_COMMAND_TIMEOUT: { kind: 'unavailable', meaning: 'A command the demo runs did not finish in time.' },
  DEMO_DIR_NOT_EMPTY: { kind: 'invalid-input', meaning: 'The --dir given to the demo is not empty.' },
  DEMO_FLAG_NOT_FOR_DEMO: {
    kind: 'invalid-input',
    meaning: 'A flag was given to a demo that does not take it.',
  },
  DEMO_INTERRUPTED: {
    kind: 'unavailable',
    meaning: 'The demo was interrupted (a signal) and stopped its processes.',
  },
  DEMO_MESHCA_NOT_FOUND: {
    kind: 'unavailable',
    meaning: 'bin/meshca.js cannot be found next to this installation of meshca.',
  },
  DEMO_NO_FREE_PORT: {
    kind: 'unavailable',
    meaning: 'The operating system gave no free TCP port on 127.0.0.1.',
  },
  DEMO_PEER_BUILD_FAILED: {
    kind: 'unavailable',
    meaning: 'Building a peer program (pilot-agent, step-ca) from peers/ failed; its output says why.',
  },
  DEMO_PILOT_AGENT_MISSING: {
    kind: 'unavailable',
    meaning: "--agent istio needs Istio's pilot-agent, which cannot be built here (Go is missing).",
  },
  DEMO_PROCESS_EXITED: {
    kind: 'unavailable',
    meaning: 'A process the demo started exited before it was ready.',
  },
  DEMO_PROCESS_NOT_READY: {
    kind: 'unavailable',
    meaning: 'A process the demo started did not become ready in time.',
  },
  DEMO_STEP_CA_MISSING: {
    kind: 'unavailable',
    meaning: 'step-ca is not built and cannot be built here (Go is missing).',
  },
  DEMO_STEP_CA_NO_JWK_PROVISIONER: {
    kind: 'config',
    meaning: 'The demo step-ca has no JWK provisioner to use.',
  },
  DEMO_STEP_CA_UNHEALTHY: {
    kind: 'unavailable',
    meaning: "The demo step-ca did not become healthy; its log's last lines are shown.",
  },
  DEMO_TOKEN_SUBJECT: { kind: 'config', meaning: 'A token file of the demo is not a service-account token.' },
  DEMO_UNKNOWN: { kind: 'invalid-input', meaning: 'There is no such demo, or it was given extra arguments.' },

  // lib/: file system
  FS_NO_SPACE: {
    kind: 'config',
    meaning: "The file system is full or the user's disk quota is used up where meshca writes.",
  },

  // identity/: who a caller is (tokens, client certificates, the embedded token issuer)
  IDENTITY_CERT_MALFORMED: { kind: 'unauthenticated', meaning: 'The client certificate cannot be parsed.' },
  IDENTITY_CERT_NOT_WORKLOAD: {
    kind: 'unauthenticated',
    meaning: 'The client certificate is not a workload certificate with exactly one SPIFFE ID.',
  },
  IDENTITY_CERT_TRUST_DOMAIN: {
    kind: 'unauthenticated',
    meaning: 'The client certificate is for a trust domain other than the one this CA serves.',
  },
  IDENTITY_CERT_UNTRUSTED: {
    kind: 'unauthenticated',
    meaning: "The client certificate does not verify against the CA's roots.",
  },
  IDENTITY_ISSUER_DUPLICATE: { kind: 'config', meaning: 'A token issuer is trusted twice in JWT_RULE.' },
  IDENTITY_ISSUER_IO: {
    kind: 'config',
    meaning: "The embedded token issuer's files cannot be read or written in the data directory.",
  },
  IDENTITY_ISSUER_KEY_INVALID: {
    kind: 'config',
    meaning: "The embedded token issuer's key is unreadable or not an EC P-256 key.",
  },
  IDENTITY_ISSUER_NAME_INVALID: {
    kind: 'config',
    meaning: 'The token issuer name is empty or contains spaces.',
  },
  IDENTITY_ISSUER_NO_AUDIENCE: {
    kind: 'config',
    meaning: 'A trusted token issuer has no audiences, so none of its tokens could be accepted.',
  },
  IDENTITY_JWKS_FILE_INVALID: {
    kind: 'config',
    meaning: 'A JWKS file named in JWT_RULE holds no usable keys.',
  },
  IDENTITY_JWKS_INVALID: {
    kind: 'config',
    meaning: 'The JWKS of a trusted token issuer is not a JSON Web Key Set.',
  },
  IDENTITY_JWT_RULE_INVALID: { kind: 'config', meaning: 'JWT_RULE cannot be used; every problem is listed.' },
  IDENTITY_SERVICE_ACCOUNT_INVALID: {
    kind: 'invalid-input',
    meaning: 'A namespace or service account is not a valid Kubernetes name.',
  },
  IDENTITY_TOKEN_ALG_NOT_ALLOWED: {
    kind: 'unauthenticated',
    meaning: 'The token is unsigned, MACed, or signed with an algorithm meshca does not accept.',
  },
  IDENTITY_TOKEN_AUDIENCE: {
    kind: 'unauthenticated',
    meaning: 'The token was not minted for an audience its issuer is trusted for.',
  },
  IDENTITY_TOKEN_AUDIENCE_INVALID: {
    kind: 'invalid-input',
    meaning: 'The audience asked for a new token is empty or not a string.',
  },
  IDENTITY_TOKEN_BAD_SIGNATURE: {
    kind: 'unauthenticated',
    meaning: "The token's signature does not verify with its issuer's keys (forged, altered or rotated key).",
  },
  IDENTITY_TOKEN_CLAIMS_MISMATCH: {
    kind: 'unauthenticated',
    meaning: 'The token contradicts itself (its subject and its Kubernetes claims name different accounts).',
  },
  IDENTITY_TOKEN_EXPIRED: { kind: 'unauthenticated', meaning: 'The token has expired; present a fresh one.' },
  IDENTITY_TOKEN_MALFORMED: {
    kind: 'unauthenticated',
    meaning: 'The bearer token is not a valid signed JWT, or lacks a claim meshca requires.',
  },
  IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT: {
    kind: 'unauthenticated',
    meaning: "The token's subject is not a Kubernetes service account.",
  },
  IDENTITY_TOKEN_NOT_YET_VALID: {
    kind: 'unauthenticated',
    meaning: 'The token is not valid yet; check the clocks of the issuer and of the CA.',
  },
  IDENTITY_TOKEN_TIME_INVALID: {
    kind: 'invalid-input',
    meaning: 'The clock given to mint a token is not a valid date.',
  },
  IDENTITY_TOKEN_TTL_INVALID: {
    kind: 'invalid-input',
    meaning: 'The lifetime asked for a new token is not a whole number of seconds above 0.',
  },
  IDENTITY_TOKEN_UNKNOWN_ISSUER: {
    kind: 'unauthenticated',
    meaning: 'The token comes from an issuer the CA does not trust (see JWT_RULE).',
  },
  IDENTITY_TOKEN_VERIFY_FAILED: {
    kind: 'internal',
    meaning: "Verifying a token failed unexpectedly, most likely an unusable key in the issuer's JWKS.",
  },

  // ca/issuance-log/: the tamper-evident issuance log and meshca log
  LOG_BAD_CERTIFICATE: {
    kind: 'internal',
    meaning: 'A certificate just issued cannot be read to log it (a bug; please report it).',
  },
  LOG_BAD_CHECKPOINT: {
    kind: 'invalid-input',
    meaning:
      'The checkpoint file given to meshca log verify is not a checkpoint as meshca log checkpoint prints it.',
  },
  LOG_BAD_FILTER: {
    kind: 'invalid-input',
    meaning:
      'A meshca log list filter is malformed (--since takes an ISO 8601 time or a duration such as 1h).',
  },
  LOG_CORRUPT: {
    kind: 'config',
    meaning:
      'A segment of the issuance log other than the last is damaged; run meshca log verify and start a new log.',
  },
  LOG_KEY_UNUSABLE: {
    kind: 'config',
    meaning: "The issuance log's own key (log-key.pem or log-key.pub.pem) cannot be read or is not Ed25519.",
  },
  LOG_LOCKED: {
    kind: 'config',
    meaning: 'Another running process writes this issuance log; run one meshca serve per log directory.',
  },
  LOG_NOT_FOUND: {
    kind: 'config',
    meaning: 'There is no issuance log in the directory named; meshca serve makes it on its first start.',
  },
  LOG_SERIAL_NOT_FOUND: {
    kind: 'invalid-input',
    meaning: 'No entry of the issuance log has the serial number given to meshca log show.',
  },
  LOG_VERIFY_FAILED: {
    kind: 'ca-unusable',
    meaning:
      'The issuance log fails verification: an entry was changed, removed, reordered or truncated, or a checkpoint is forged.',
  },
  LOG_WRITE_FAILED: {
    kind: 'unavailable',
    meaning:
      'The issuance log cannot be written, so no certificate is handed out until it can (restart once fixed).',
  },

  // kubernetes/: the Kubernetes home (Secrets, ConfigMaps, TokenReview, leases)
  KUBE_CA_SECRET_INVALID: {
    kind: 'config',
    meaning: 'The istio-ca-secret Secret cannot be used as the self-signed CA; fix or delete it.',
  },
  KUBE_CACERTS_DELETED: {
    kind: 'config',
    meaning: 'The plugged-in cacerts Secret was deleted while serving; the bundle in service keeps signing.',
  },
  KUBE_CONFIG_INVALID: {
    kind: 'config',
    meaning: 'The kubeconfig (--kubeconfig, KUBECONFIG or in-cluster) cannot be loaded or names no server.',
  },
  KUBE_FORBIDDEN: {
    kind: 'config',
    meaning:
      'The API server refused a call for lack of RBAC permission; the message names verb, resource and namespace.',
  },
  KUBE_JWKS_UNAVAILABLE: {
    kind: 'unavailable',
    meaning:
      "The API server's service-account issuer discovery or keys cannot be read (offline token checks).",
  },
  KUBE_NAMESPACE_INVALID: {
    kind: 'invalid-input',
    meaning: 'The CA namespace (--namespace, POD_NAMESPACE) is not a valid Kubernetes namespace name.',
  },
  KUBE_REQUEST_FAILED: {
    kind: 'unavailable',
    meaning: 'The Kubernetes API server answered a call with an unexpected error.',
  },
  KUBE_TOKEN_REJECTED: {
    kind: 'unauthenticated',
    meaning: 'The Kubernetes API server (TokenReview) did not authenticate the token for the CA audience.',
  },
  KUBE_TOKEN_REVIEW_UNAVAILABLE: {
    kind: 'unavailable',
    meaning:
      'The TokenReview call failed or timed out, so the token could not be checked; the agent retries.',
  },
  KUBE_UNAUTHORIZED: {
    kind: 'config',
    meaning: "The API server refused meshca's own credentials (401).",
  },
  KUBE_UNREACHABLE: {
    kind: 'unavailable',
    meaning: 'The Kubernetes API server cannot be reached.',
  },
  // kubernetes/csr-signer/ and kubernetes/workload-secrets/: meshca as a CSR signer; istio.<sa> Secrets
  KUBE_CSR_REFUSED: {
    kind: 'invalid-input',
    meaning:
      "meshca's CSR signer refused an approved CertificateSigningRequest that breaks its policy (a Failed condition says why).",
  },
  KUBE_CSR_SIGNING_FAILED: {
    kind: 'ca-unusable',
    meaning:
      "meshca's CSR signer could not sign an approved CertificateSigningRequest with the CA in service (a Failed condition says why).",
  },
  KUBE_WORKLOAD_SECRET_NOT_OURS: {
    kind: 'config',
    meaning:
      'A Secret istio.<serviceaccount> exists that meshca did not make; it is left alone (delete it to let meshca keep it).',
  },
  // kubernetes/rotation/: a staged root change and self-signed root renewal in the Kubernetes home
  KUBE_ROTATION_CONFLICT: {
    kind: 'unavailable',
    meaning:
      'Another meshca rotate command changed the rotation Secret at the same moment; run the command again.',
  },
  KUBE_ROTATION_NO_CA: {
    kind: 'config',
    meaning:
      "The CA's namespace holds no istio-ca-root-cert ConfigMap yet: no meshca has served there, so there is nothing to rotate.",
  },
  // mesh/: Istio, cert-manager and step-issuer YAML
  MESH_CONFIG_FROZEN: {
    kind: 'internal',
    meaning: 'Code tried to change the read-only mesh configuration (a bug; please report it).',
  },
  MESH_CONFIG_INVALID: {
    kind: 'config',
    meaning: 'The mesh configuration has problems; every one of them is listed.',
  },
  MESH_CONFIG_NOT_FOUND: {
    kind: 'config',
    meaning: 'The mesh configuration file or directory does not exist.',
  },
  MESH_CONFIG_RELOAD_FAILED: {
    kind: 'internal',
    meaning: 'Reloading the mesh configuration failed unexpectedly; the previous one stays in service.',
  },
  MESH_CONFIG_UNREADABLE: { kind: 'config', meaning: 'The mesh configuration cannot be read or listed.' },
  MESH_SIGNER_NAME_UNQUALIFIED: {
    kind: 'invalid-input',
    meaning: 'A bare signer name was asked for and the mesh sets no CERT_SIGNER_DOMAIN to complete it.',
  },
  MESH_SIGNER_NOT_ALLOWED: {
    kind: 'permission-denied',
    meaning: "The request asked for a signer other than the one its namespace's ProxyConfig allows.",
  },

  // pki/: X.509, keys, CSRs, PEM, SPIFFE IDs
  PKI_CA_KEY_MISMATCH: {
    kind: 'ca-unusable',
    meaning: "A certificate signed with the CA key does not verify with the CA certificate's public key.",
  },
  PKI_CERT_MALFORMED: {
    kind: 'invalid-input',
    meaning: 'A certificate or certificate file is malformed or holds the wrong blocks.',
  },
  PKI_CHAIN_DISCONNECTED: { kind: 'invalid-input', meaning: 'The certificates given do not form one chain.' },
  PKI_CSR_BAD_SIGNATURE: {
    kind: 'invalid-input',
    meaning:
      "The CSR's signature does not verify with its own public key (altered or made with another key).",
  },
  PKI_CSR_MALFORMED: { kind: 'invalid-input', meaning: 'The CSR is not a valid PKCS#10 request.' },
  PKI_CSR_UNSUPPORTED_ALGORITHM: {
    kind: 'invalid-input',
    meaning: 'The CSR uses a key or signature algorithm meshca does not accept.',
  },
  PKI_CSR_URI_INVALID: {
    kind: 'invalid-input',
    meaning: 'A workload CSR was asked for with an empty SPIFFE ID.',
  },
  PKI_DER_ENCODE: {
    kind: 'invalid-input',
    meaning: 'A value cannot be DER-encoded into a certificate or CSR.',
  },
  PKI_DER_MALFORMED: { kind: 'invalid-input', meaning: 'DER data (a certificate, CSR or key) is malformed.' },
  PKI_DNS_NAME_INVALID: {
    kind: 'invalid-input',
    meaning: 'A DNS name for a certificate is not a valid DNS name.',
  },
  PKI_IP_ADDRESS_INVALID: {
    kind: 'invalid-input',
    meaning: 'An IP address for a certificate is not an IPv4 or IPv6 address.',
  },
  PKI_ISSUER_EXPIRED: {
    kind: 'ca-unusable',
    meaning: 'The issuing CA certificate has expired; plug in a new CA certificate before issuing.',
  },
  PKI_ISSUER_KEY_UNSUPPORTED: {
    kind: 'ca-unusable',
    meaning: 'The CA key is of a type meshca cannot sign with; use an EC (P-256, P-384) or RSA CA key.',
  },
  PKI_KEY_MALFORMED: { kind: 'invalid-input', meaning: 'A PEM key block does not hold a valid key.' },
  PKI_KEY_TYPE_UNKNOWN: { kind: 'invalid-input', meaning: 'The key type asked for is not one meshca makes.' },
  PKI_KEY_UNSUPPORTED: {
    kind: 'invalid-input',
    meaning:
      'A key cannot be used for this (a public key where a private one is needed, or an unsupported type).',
  },
  PKI_NAME_INVALID: {
    kind: 'invalid-input',
    meaning: 'A certificate name (subject or one of its attributes) is empty.',
  },
  PKI_NAME_MALFORMED: { kind: 'invalid-input', meaning: 'A distinguished name is not valid DER.' },
  PKI_PATHLEN_EXCEEDED: {
    kind: 'invalid-input',
    meaning: 'The issuer has pathlen:0, so a CA certificate it signed would never verify.',
  },
  PKI_PATHLEN_INVALID: {
    kind: 'invalid-input',
    meaning: 'A CA path length is not a whole number of 0 or more.',
  },
  PKI_PEM_ENCRYPTED: {
    kind: 'invalid-input',
    meaning: 'A PEM key is encrypted; meshca needs an unencrypted key.',
  },
  PKI_PEM_MALFORMED: {
    kind: 'invalid-input',
    meaning: 'A file is not valid PEM (no block, bad base64, mismatched END line).',
  },
  PKI_SAN_EMPTY: {
    kind: 'invalid-input',
    meaning: 'A serving certificate was asked for without any DNS name or IP address.',
  },
  PKI_SPIFFE_ID_INVALID: { kind: 'invalid-input', meaning: 'A SPIFFE ID or trust domain is not valid.' },
  PKI_TIME_INVALID: { kind: 'invalid-input', meaning: 'The issuance time is not a valid date.' },
  PKI_TTL_INVALID: {
    kind: 'invalid-input',
    meaning: 'A certificate lifetime is not a positive number of seconds.',
  },
  PKI_VALIDITY_INVALID: { kind: 'invalid-input', meaning: 'A CA validity is not a positive number of days.' },

  // proxy/: the mutual-TLS sidecar
  PROXY_CREDENTIALS_INCONSISTENT: {
    kind: 'unavailable',
    meaning: "The workload's certificate, key and roots do not belong together (usually mid-rotation).",
  },
  PROXY_CREDENTIALS_INVALID: {
    kind: 'config',
    meaning: "The workload's certificate or key files cannot be used (unparseable, or no SPIFFE ID).",
  },
  PROXY_CREDENTIALS_MISSING: {
    kind: 'unavailable',
    meaning: "The workload's certificate files do not exist yet; start the agent that writes them.",
  },
  PROXY_CREDENTIALS_UNREADABLE: {
    kind: 'config',
    meaning: "The workload's certificate files cannot be read.",
  },
  PROXY_CREDENTIALS_WATCH_CLOSED: {
    kind: 'unavailable',
    meaning: "The proxy stopped watching for the workload's certificate files before they appeared.",
  },
  PROXY_LISTEN_FAILED: {
    kind: 'unavailable',
    meaning: 'A proxy port cannot be opened (taken, or not allowed); choose a free port.',
  },
  PROXY_UPSTREAM_NO_SPIFFE_ID: {
    kind: 'permission-denied',
    meaning: "The upstream's certificate names no SPIFFE ID, so it is not the workload expected.",
  },
  PROXY_UPSTREAM_SPIFFE_ID_MISMATCH: {
    kind: 'permission-denied',
    meaning: 'The upstream presented a SPIFFE ID other than the one expected.',
  },

  // issuance/: CA and RA mode, external signers (cert-manager issuer on disk, step-ca)
  RA_CHAIN_UNTRUSTED: {
    kind: 'ca-unusable',
    meaning: "A signer's chain does not verify against its root in meshConfig.caCertificates.",
  },
  RA_CSR_REQUESTS_CA: {
    kind: 'invalid-input',
    meaning: 'The CSR asks for a CA certificate; workloads get leaf certificates only.',
  },
  RA_CSR_WEAK_KEY: { kind: 'invalid-input', meaning: "The CSR's key is weaker than meshca accepts." },
  RA_IDENTITY_MISMATCH: {
    kind: 'permission-denied',
    meaning: "The CSR asks for an identity other than the caller's own.",
  },
  RA_KUBE_CSR_BAD_CERTIFICATE: {
    kind: 'ca-unusable',
    meaning:
      "A Kubernetes CSR signer wrote a status.certificate that is not a certificate chain for the CSR's key.",
  },
  RA_KUBE_CSR_CHAIN_UNTRUSTED: {
    kind: 'ca-unusable',
    meaning:
      "A Kubernetes CSR signer's certificate does not verify against its root in meshConfig.caCertificates.",
  },
  RA_KUBE_CSR_DENIED: {
    kind: 'permission-denied',
    meaning: "A Kubernetes CertificateSigningRequest was denied by the cluster's approval policy.",
  },
  RA_KUBE_CSR_FAILED: {
    kind: 'unavailable',
    meaning: 'The controller of a Kubernetes CSR signer marked the CertificateSigningRequest Failed.',
  },
  RA_KUBE_CSR_TIMEOUT: {
    kind: 'unavailable',
    meaning: 'No controller signed a Kubernetes CertificateSigningRequest in time.',
  },
  RA_KUBE_CSR_TTL_TOO_SHORT: {
    kind: 'invalid-input',
    meaning: 'The requested lifetime is below the 600 s the Kubernetes CSR API grants at least.',
  },
  RA_KUBE_CSR_UNAVAILABLE: {
    kind: 'config',
    meaning: 'A signer needs the Kubernetes CSR API, but meshca does not run in the Kubernetes home.',
  },
  RA_NO_SIGNER: {
    kind: 'ca-unusable',
    meaning: 'No signer is set for the namespace (workload, ProxyConfig or mesh default).',
  },
  RA_SAN_INVALID: { kind: 'invalid-input', meaning: 'The identities in the CSR cannot be validated.' },
  RA_SIGNER_FAILED: { kind: 'unavailable', meaning: 'An external signer failed to sign.' },
  RA_SIGNER_NO_ROOT: {
    kind: 'ca-unusable',
    meaning: 'The signer has no root in meshConfig.caCertificates, so its chain cannot be checked.',
  },
  RA_SIGNER_PASSWORD_MISSING: {
    kind: 'config',
    meaning: "A step-ca signer's provisioner password file cannot be read.",
  },
  RA_SIGNER_TIMEOUT: { kind: 'unavailable', meaning: 'An external signer did not sign in time.' },
  RA_SIGNER_WRONG_IDENTITY: {
    kind: 'ca-unusable',
    meaning: 'An external signer issued a certificate for an identity other than the one asked for.',
  },
  RA_STEP_ABORTED: { kind: 'unavailable', meaning: 'A request to step-ca was cancelled before it answered.' },
  RA_STEP_BAD_REQUEST: {
    kind: 'invalid-input',
    meaning: 'step-ca rejected the request as malformed (HTTP 400).',
  },
  RA_STEP_BAD_RESPONSE: {
    kind: 'ca-unusable',
    meaning: "step-ca's answer is not what its API returns; check that the signer's URL points at step-ca.",
  },
  RA_STEP_CA_BUNDLE_INVALID: {
    kind: 'config',
    meaning: 'The CA bundle configured for step-ca is not PEM or holds no certificate.',
  },
  RA_STEP_CLOSED: {
    kind: 'internal',
    meaning: 'A step-ca signer was used after it was closed (replaced by a reload or shut down).',
  },
  RA_STEP_FORBIDDEN: {
    kind: 'invalid-input',
    meaning: "step-ca's provisioner policy does not allow this identity or lifetime (HTTP 403).",
  },
  RA_STEP_PROVISIONER_KEY_INVALID: {
    kind: 'ca-unusable',
    meaning: "A step-ca provisioner's key cannot be read or used for signing tokens.",
  },
  RA_STEP_PROVISIONER_NOT_FOUND: {
    kind: 'ca-unusable',
    meaning: 'step-ca has no JWK provisioner with the configured name and key id.',
  },
  RA_STEP_PROVISIONER_NO_KEY: {
    kind: 'ca-unusable',
    meaning: 'step-ca keeps no encrypted private key for the configured provisioner.',
  },
  RA_STEP_PROVISIONER_PASSWORD: {
    kind: 'ca-unusable',
    meaning: "The configured password does not decrypt the step-ca provisioner's key.",
  },
  RA_STEP_TIMEOUT: { kind: 'unavailable', meaning: "step-ca did not answer within the signer's timeout." },
  RA_STEP_TIMEOUT_INVALID: {
    kind: 'config',
    meaning: "A step-ca signer's timeout is not a positive number.",
  },
  RA_STEP_TLS_UNTRUSTED: {
    kind: 'ca-unusable',
    meaning: "step-ca's TLS certificate is not accepted by the signer's CA bundle or does not name its host.",
  },
  RA_STEP_UNAUTHORIZED: {
    kind: 'ca-unusable',
    meaning:
      "step-ca refused meshca's provisioner token (HTTP 401): wrong provisioner, key, password or clock.",
  },
  RA_STEP_UNAVAILABLE: {
    kind: 'unavailable',
    meaning: 'step-ca cannot be reached, or failed while handling the request.',
  },
  RA_STEP_UNEXPECTED_STATUS: {
    kind: 'ca-unusable',
    meaning: "step-ca answered with an unexpected HTTP status; check that the signer's URL is step-ca's API.",
  },
  RA_STEP_URL_INVALID: { kind: 'config', meaning: "A step-ca signer's URL is not an https:// URL." },
  RA_STEP_X5C_CHAIN_INVALID: {
    kind: 'config',
    meaning: "A step-ca X5C provisioner's certificate chain cannot be used.",
  },
  RA_STEP_X5C_KEY_INVALID: {
    kind: 'config',
    meaning: "A step-ca X5C provisioner's key cannot be read or is of an unusable type.",
  },
  RA_STEP_X5C_KEY_MISMATCH: {
    kind: 'config',
    meaning: "A step-ca X5C provisioner's key does not belong to the first certificate of its chain.",
  },
  RA_UNKNOWN_SIGNER: { kind: 'ca-unusable', meaning: 'The signer asked for is not configured.' },

  // server/: meshca serve
  SERVER_AUTH_HEADER_MALFORMED: {
    kind: 'unauthenticated',
    meaning: 'The authorization header is not "Bearer <token>".',
  },
  SERVER_CERT_PROVIDER_UNSUPPORTED: {
    kind: 'config',
    meaning: "PILOT_CERT_PROVIDER names a signer that cannot provide the CA server's own certificate.",
  },
  SERVER_CLIENT_CERT_REJECTED: {
    kind: 'unauthenticated',
    meaning: "The client certificate does not verify against the CA's roots.",
  },
  SERVER_IDENTITY_MISSING: {
    kind: 'unauthenticated',
    meaning: 'The credentials were accepted but name no namespace and service account.',
  },
  SERVER_LISTEN_FAILED: {
    kind: 'unavailable',
    meaning: 'The CA cannot listen on its --listen address (taken, not allowed, or no such address).',
  },
  SERVER_MONITORING_LISTEN_FAILED: {
    kind: 'unavailable',
    meaning: 'The CA cannot listen on its --monitoring address (taken, not allowed, or no such address).',
  },
  SERVER_NO_CREDENTIALS: {
    kind: 'unauthenticated',
    meaning: 'The call carries neither a bearer token nor a client certificate.',
  },
  SERVER_TTL_TOO_LONG: {
    kind: 'invalid-input',
    meaning: 'The requested lifetime is greater than the maximum allowed.',
  },
  SERVER_UNEXPECTED: { kind: 'internal', meaning: 'Signing failed unexpectedly (a bug; please report it).' },
  SERVER_WORKER_CRASHED: {
    kind: 'internal',
    meaning: 'A worker of serve --workers failed unexpectedly (a bug; please report it).',
  },
  SERVER_WORKER_EXITED: {
    kind: 'unavailable',
    meaning: 'A worker of serve --workers exited before it served.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** Every error code meshca has. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The kind the table gives `C`. */
export type KindOf<C extends ErrorCode> = (typeof ERROR_CODES)[C]['kind'];

/** The codes whose kind is `K`: what a shorthand such as configError accepts. */
export type CodesOfKind<K extends ErrorKind> = {
  [C in ErrorCode]: KindOf<C> extends K ? C : never;
}[ErrorCode];
