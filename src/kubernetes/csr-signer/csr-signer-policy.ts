// What meshca's Kubernetes CSR signer agrees to sign: an approved request for one workload identity
// of the mesh's trust domain (a SPIFFE X.509-SVID), with a strong key, the usages of a workload
// certificate only, and a lifetime no longer than the maximum workload TTL. The API server checks
// none of this (it only parses the request and checks its signature); the signer must.
import type { V1CertificateSigningRequest } from '@kubernetes/client-node';
import { invalidInput, isMeshcaError, type MeshcaError } from '../../errors.js';
import {
  MIN_CSR_EXPIRATION_SECONDS,
  WORKLOAD_CSR_USAGES,
} from '../../issuance/signers/kubernetes-csr/csr-api.js';
import { checkCsrKey } from '../../issuance/validate-csr.js';
import { capCallerText } from '../../log.js';
import { parseCsr } from '../../pki/parse-csr.js';
import { parseWorkloadId } from '../../pki/spiffe-id.js';
import type { ParsedCsr } from '../../pki/types.js';

/** The usages a workload certificate has (Kubernetes' names, Istio's set); anything else is refused. */
const WORKLOAD_USAGES: ReadonlySet<string> = new Set(WORKLOAD_CSR_USAGES);
/** A workload CSR is a few hundred bytes; anything this large is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;

export interface CsrSignerPolicy {
  trustDomain: string;
  /** The lifetime when the request names none (DEFAULT_WORKLOAD_CERT_TTL). */
  defaultTtlSeconds: number;
  /** The longest lifetime granted; longer requests are cut to it (MAX_WORKLOAD_CERT_TTL). */
  maxTtlSeconds: number;
}

/** The condition reason a refusal carries, so `kubectl get csr -o yaml` says which rule it broke. */
export type RefusalReason = 'InvalidRequest' | 'UnsupportedKey' | 'InvalidIdentity' | 'UnsupportedUsage';

export type PolicyVerdict =
  | { ok: true; csr: ParsedCsr; spiffeId: string; ttlSeconds: number }
  | { ok: false; reason: RefusalReason; error: MeshcaError };

function refuse(reason: RefusalReason, name: string, why: string): PolicyVerdict {
  return {
    ok: false,
    reason,
    error: invalidInput('KUBE_CSR_REFUSED', `meshca refuses CertificateSigningRequest ${name}: ${why}`),
  };
}

/** Checks one CertificateSigningRequest against the policy; never throws for what a client sent. */
export function checkCsrAgainstPolicy(
  object: V1CertificateSigningRequest,
  policy: CsrSignerPolicy,
): PolicyVerdict {
  const name = object.metadata?.name ?? '(unnamed)';
  const request = object.spec?.request ?? '';
  if (request.length > (MAX_REQUEST_BYTES * 4) / 3)
    return refuse('InvalidRequest', name, `spec.request is larger than ${MAX_REQUEST_BYTES} bytes`);
  let csr: ParsedCsr;
  try {
    csr = parseCsr(Buffer.from(request, 'base64').toString('utf8'));
    checkCsrKey(csr);
  } catch (err) {
    if (!isMeshcaError(err)) throw err;
    return refuse(err.code === 'RA_CSR_WEAK_KEY' ? 'UnsupportedKey' : 'InvalidRequest', name, err.message);
  }
  const problems: string[] = [];
  if (csr.uris.length !== 1)
    problems.push(
      `it has ${csr.uris.length} URI SANs; a workload certificate has exactly one, its SPIFFE ID`,
    );
  if (csr.dnsNames.length + csr.ips.length + csr.emails.length > 0)
    problems.push('it has DNS, IP or email SANs, which workload certificates may not carry');
  let spiffeId = '';
  if (csr.uris.length === 1) {
    spiffeId = csr.uris[0]!;
    try {
      const id = parseWorkloadId(spiffeId);
      if (id.trustDomain !== policy.trustDomain)
        problems.push(
          `its SPIFFE ID ${capCallerText(spiffeId)} is outside the mesh's trust domain ${policy.trustDomain}`,
        );
    } catch (err) {
      if (!isMeshcaError(err)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) return refuse('InvalidIdentity', name, problems.join('; '));
  const usages = object.spec?.usages ?? [];
  const foreign = usages.filter((u) => !WORKLOAD_USAGES.has(u));
  if (foreign.length > 0)
    return refuse(
      'UnsupportedUsage',
      name,
      `usages ${foreign.map((u) => `"${capCallerText(u, 40)}"`).join(', ')} are not those of a workload certificate (${[...WORKLOAD_USAGES].join(', ')})`,
    );
  const asked = object.spec?.expirationSeconds;
  const ttlSeconds = Math.max(
    MIN_CSR_EXPIRATION_SECONDS,
    Math.min(policy.maxTtlSeconds, asked ?? policy.defaultTtlSeconds),
  );
  return { ok: true, csr, spiffeId, ttlSeconds };
}
