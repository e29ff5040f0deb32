// The 503 a client sees when the proxy cannot reach its upstream, worded as Envoy words it, so
// runbooks and greps written for istio-proxy ("CERTIFICATE_VERIFY_FAILED", "connection refused") work.
import type { ServerResponse } from 'node:http';

const PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason:';

/** Node's codes for a peer chain that failed X.509 verification (OpenSSL's X509_V_ERR_* names). */
const VERIFY_ERROR_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // Ours: the chain verified but the peer is not the workload we meant to reach. Envoy checks
  // SANs inside certificate verification, so it reports this case as a verify failure too.
  'PROXY_UPSTREAM_SPIFFE_ID_MISMATCH',
  'PROXY_UPSTREAM_NO_SPIFFE_ID',
]);

// BoringSSL's packed error numbers (ERR_PACK(ERR_LIB_SSL, reason)) as Envoy prints them, for the
// TLS failures one meets in a mesh; others are printed without a number.
const BORINGSSL_ERROR_NUMBERS: Record<string, number> = {
  CERTIFICATE_VERIFY_FAILED: 268435581,
  WRONG_VERSION_NUMBER: 268435703,
  SSLV3_ALERT_HANDSHAKE_FAILURE: 268436496,
  SSLV3_ALERT_BAD_CERTIFICATE: 268436498,
  SSLV3_ALERT_CERTIFICATE_UNKNOWN: 268436502,
  TLSV1_ALERT_UNKNOWN_CA: 268436504,
};

function tlsError(reason: string): string {
  const number = BORINGSSL_ERROR_NUMBERS[reason];
  return `TLS_error:|${number === undefined ? '' : `${number}:`}SSL routines:OPENSSL_internal:${reason}:TLS_error_end`;
}

type NodeError = Error & { code?: string; errno?: number; reason?: string; library?: string };

/** Envoy-style text for a failure to connect to or talk with the upstream. */
export function describeUpstreamError(error: unknown): string {
  const err = error as NodeError;
  const code = err?.code ?? '';
  const detail = err?.message ?? String(error);
  if (VERIFY_ERROR_CODES.has(code)) {
    return `${PREFIX} connection failure, transport failure reason: ${tlsError('CERTIFICATE_VERIFY_FAILED')} (${detail})`;
  }
  if (code.startsWith('ERR_SSL_') || err?.library === 'SSL routines') {
    const reason = (err.reason ?? code.replace(/^ERR_SSL_/, '')).toUpperCase().replace(/[^A-Z0-9]+/g, '_');
    // OpenSSL's message is a multi-line error-queue dump; its reason string is the useful part.
    const said = err.reason ?? detail.split('\n')[0];
    return `${PREFIX} connection failure, transport failure reason: ${tlsError(reason)} (${said})`;
  }
  switch (code) {
    case 'ECONNREFUSED':
      return `${PREFIX} connection failure, transport failure reason: delayed connect error: ${Math.abs(err.errno ?? 111)} (connection refused)`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `${PREFIX} connection termination (${detail})`;
    case 'ETIMEDOUT':
      return `${PREFIX} connection timeout`;
    default:
      return `${PREFIX} connection failure, transport failure reason: ${detail}`;
  }
}

/** Answers 503 with the Envoy-style text, unless the response has already begun. */
export function sendUpstreamError(res: ServerResponse, error: unknown): string {
  const body = describeUpstreamError(error);
  if (res.headersSent) {
    res.destroy();
    return body;
  }
  res.writeHead(503, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return body;
}
