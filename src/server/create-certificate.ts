// The CreateCertificate handler: authenticate, parse and bound the request, hand it to the
// issuance layer, answer with the chain. Maps every MeshcaError to its gRPC status here.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  type IstioCertificateRequest,
  type IstioCertificateResponse,
  metadataString,
} from '../api/ca-service.js';
import { internalError, invalidInput, isMeshcaError, type MeshcaError, unauthenticated } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import type { Issuance } from '../issuance/issuance.js';
import { capCallerText, type Logger } from '../log.js';
import { parseCsr } from '../pki/parse-csr.js';
import type { ParsedCsr } from '../pki/types.js';
import type { CallAuthenticator } from './authenticate-call.js';
import { grpcStatusFor } from './error-status.js';
import {
  DEFAULT_SIGNER_ACTIVITY,
  type IssuanceActivity,
  UNAUTHENTICATED_ACTIVITY,
} from './issuance-activity.js';
import { type CaMetrics, UNKNOWN_SIGNER } from './metrics.js';

/** Istio's wording, so agents and operators see the message they know. */
export const AUTHENTICATION_FAILURE_MESSAGE = 'request authenticate failure';

/**
 * The most of an error message that reaches a log line or a caller's status. Layers below cap the
 * caller values they quote; this bounds whatever they did not (a URI SAN, a signer name, a claim).
 */
export const MESSAGE_LIMIT = 2048;

/** Credentials that authenticated but name no workload identity: Istio's id extraction errors. */
const ID_EXTRACTION_CODES: ReadonlySet<string> = new Set([
  'IDENTITY_TOKEN_NOT_SERVICE_ACCOUNT',
  'IDENTITY_TOKEN_CLAIMS_MISMATCH',
  'IDENTITY_CERT_NOT_WORKLOAD',
  'SERVER_IDENTITY_MISSING',
]);

export interface TtlPolicy {
  defaultSeconds: number;
  maxSeconds: number;
}

function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 || (h === 0 && m === 0) ? `${s}s` : ''}`;
}

export function resolveTtl(requested: number, policy: TtlPolicy): number {
  if (!Number.isFinite(requested) || requested <= 0) return policy.defaultSeconds;
  if (requested > policy.maxSeconds) {
    throw invalidInput(
      'SERVER_TTL_TOO_LONG',
      `requested TTL ${formatDuration(requested)} is greater than the max allowed TTL ${formatDuration(policy.maxSeconds)}`,
    );
  }
  return requested;
}

export function createCertificateHandler(deps: {
  authenticator: CallAuthenticator;
  issuance: () => Issuance;
  ttl: TtlPolicy;
  metrics: CaMetrics;
  log: Logger;
  /** Called before work starts and after it ends, for graceful shutdown. */
  track: <T>(work: Promise<T>) => Promise<T>;
  /** Outcomes per signer and minute, for the dashboard. */
  activity?: IssuanceActivity;
}): grpc.handleUnaryCall<IstioCertificateRequest, IstioCertificateResponse> {
  const { metrics, log } = deps;
  /** The sign-error label: a configured signer's name, "" when none was asked for, else UNKNOWN_SIGNER. */
  const signerLabel = (requested: string | undefined): string =>
    requested === undefined ? '' : (deps.issuance().knownSigner(requested) ?? UNKNOWN_SIGNER);
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const rawClusterId = call.metadata.get('ClusterID')[0];
    const clusterId = typeof rawClusterId === 'string' ? capCallerText(rawClusterId) : undefined;
    metrics.csrCount.inc();
    let caller: Caller | undefined;
    const work = (async () => {
      try {
        caller = await deps.authenticator.authenticate(call);
        if (!caller.namespace || !caller.serviceAccount) {
          throw unauthenticated(
            'SERVER_IDENTITY_MISSING',
            'the credentials were accepted but name no namespace and service account; present a service-account token or a workload certificate',
          );
        }
      } catch (err) {
        if (isMeshcaError(err) && err.kind === 'unavailable') {
          // The credential could not be checked (TokenReview down or slow): the caller should retry,
          // and its credential is not to blame.
          log.warn('authentication unavailable', {
            requestId,
            clusterId,
            outcome: 'unavailable',
            code: err.code,
            reason: capCallerText(err.message, MESSAGE_LIMIT),
          });
          callback({ code: grpc.status.UNAVAILABLE, details: capCallerText(err.message, MESSAGE_LIMIT) });
          return;
        }
        metrics.authFailures.inc();
        deps.activity?.record(UNAUTHENTICATED_ACTIVITY, 'error');
        const code = isMeshcaError(err) ? err.code : 'UNKNOWN';
        if (ID_EXTRACTION_CODES.has(code)) metrics.idExtractionErrors.inc();
        const reason = isMeshcaError(err) ? err.message : String(err);
        log.warn('authentication failed', {
          requestId,
          clusterId,
          outcome: 'unauthenticated',
          code,
          reason: capCallerText(reason, MESSAGE_LIMIT),
        });
        callback({ code: grpc.status.UNAUTHENTICATED, details: AUTHENTICATION_FAILURE_MESSAGE });
        return;
      }
      const identity = `${caller.namespace}/${caller.serviceAccount}`;
      const certSigner = metadataString(call.request, 'CertSigner');
      try {
        const request = call.request;
        let csr: ParsedCsr;
        try {
          csr = parseCsr(request.csr ?? '');
        } catch (err) {
          metrics.csrParsingErrors.inc();
          throw err;
        }
        const ttlSeconds = resolveTtl(Number(request.validity_duration ?? 0), deps.ttl);
        const result = await deps.issuance().issue({
          caller,
          csr,
          csrPem: request.csr,
          ttlSeconds,
          certSigner,
          requestId,
        });
        metrics.issued.inc({ signer: result.signer });
        deps.activity?.record(result.signer, 'issued');
        metrics.issuanceSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        log.info('certificate issued', {
          requestId,
          clusterId,
          caller: identity,
          via: caller.via,
          ...(caller.pod ? { pod: caller.pod.name, podUid: caller.pod.uid } : {}),
          spiffeId: result.spiffeId,
          signer: result.signer,
          serial: result.serialHex,
          ttlSeconds,
          outcome: 'issued',
        });
        callback(null, { cert_chain: result.certChain });
      } catch (err) {
        const error: MeshcaError = isMeshcaError(err)
          ? err
          : internalError(
              'SERVER_UNEXPECTED',
              `unexpected failure while signing: ${(err as Error)?.message}`,
              err,
            );
        const signer = signerLabel(certSigner);
        metrics.signErrors.inc({ error: error.code, signer });
        deps.activity?.record(signer || DEFAULT_SIGNER_ACTIVITY, 'error');
        const message = capCallerText(error.message, MESSAGE_LIMIT);
        log.warn('certificate refused', {
          requestId,
          clusterId,
          caller: identity,
          certSigner: certSigner === undefined ? undefined : capCallerText(certSigner),
          outcome: 'refused',
          code: error.code,
          reason: message,
        });
        callback({ code: grpcStatusFor(error.kind), details: message });
      }
    })();
    void deps.track(work);
  };
}
