// Checks a parsed CSR against the caller before anything is signed: key strength, no CA request,
// and that any identity it names is the caller's own (the issued SAN never comes from the CSR).
import { invalidInput, permissionDenied } from '../errors.js';
import { capCallerText } from '../log.js';
import type { ParsedCsr } from '../pki/types.js';

/** RSA below this many bits is refused (NIST SP 800-131A); EC below P-256 likewise. */
export const MIN_RSA_BITS = 2048;
export const MIN_EC_BITS = 256;

export function checkCsrKeyAndKind(csr: ParsedCsr): void {
  checkCsrKey(csr);
  if (csr.requestsCa) {
    throw invalidInput(
      'RA_CSR_REQUESTS_CA',
      'the CSR asks for a CA certificate (basicConstraints CA:TRUE or keyUsage keyCertSign); workloads get leaf certificates only',
    );
  }
}

/** Key strength alone: RSA of at least MIN_RSA_BITS, EC of at least MIN_EC_BITS. */
export function checkCsrKey(csr: ParsedCsr): void {
  if (csr.keyAlgorithm === 'rsa' && csr.keyBits < MIN_RSA_BITS) {
    throw invalidInput(
      'RA_CSR_WEAK_KEY',
      `the CSR's key is ${csr.keyDescription}, weaker than the minimum RSA ${MIN_RSA_BITS}; generate a key of at least ${MIN_RSA_BITS} bits or EC P-256`,
    );
  }
  if (csr.keyAlgorithm === 'ec' && csr.keyBits < MIN_EC_BITS) {
    throw invalidInput('RA_CSR_WEAK_KEY', `the CSR's key is ${csr.keyDescription}; use EC P-256 or stronger`);
  }
}

/**
 * Default CA mode (issue: authorization): the CSR may name only the caller's own SPIFFE ID. A
 * different identity is PERMISSION_DENIED naming both, so the operator sees who asked for what.
 */
export function checkCsrIdentity(csr: ParsedCsr, callerSpiffeId: string): void {
  for (const uri of csr.uris) {
    if (uri !== callerSpiffeId) {
      throw permissionDenied(
        'RA_IDENTITY_MISMATCH',
        `the CSR asks for identity ${capCallerText(uri)} but the caller is ${callerSpiffeId}; a workload may only get a certificate for its own identity`,
      );
    }
  }
}

/**
 * Registration-authority mode: Istio's RA rules before a CSR leaves for an external signer. Its
 * error text is Istio's, so operators can search for it.
 */
export function checkCsrForExternalSigner(csr: ParsedCsr, callerSpiffeId: string): void {
  checkCsrKeyAndKind(csr);
  const reasons: string[] = [];
  if (csr.uris.length > 1) reasons.push(`it has ${csr.uris.length} URI SANs, at most one is allowed`);
  if (csr.uris.length === 1 && csr.uris[0] !== callerSpiffeId) {
    reasons.push(`its URI SAN ${capCallerText(csr.uris[0]!)} is not the caller's identity ${callerSpiffeId}`);
  }
  if (csr.dnsNames.length + csr.ips.length + csr.emails.length > 0) {
    reasons.push('it has DNS, IP or email SANs, which workload certificates may not carry');
  }
  if (reasons.length > 0) {
    throw invalidInput('RA_SAN_INVALID', `unable to validate SAN Identities in CSR: ${reasons.join('; ')}`);
  }
}
