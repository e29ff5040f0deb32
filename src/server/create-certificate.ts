// The CreateCertificate handler: authenticate, parse and bound the request, hand it to the
// issuance layer, answer with the chain. Maps every MeshcaError to its gRPC status here.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  type IstioCertificateRequest,
  type IstioCertificateResponse,
  metadataString,
} from '../api/ca-service.js';
import { internalError, invalidInput, isMeshcaError, type MeshcaError } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import type { Logger } from '../log.js';
import { parseCsr } from '../pki/parse-csr.js';
import type { Issuance } from '../ra/issuance.js';
import type { CallAuthenticator } from './authenticate-call.js';
import { grpcStatusFor } from './error-status.js';
import type { CaMetrics } from './metrics.js';

/** Istio's wording, so agents and operators see the message they know. */
export const AUTHENTICATION_FAILURE_MESSAGE = 'request authenticate failure';

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
}): grpc.handleUnaryCall<IstioCertificateRequest, IstioCertificateResponse> {
  const { metrics, log } = deps;
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const clusterId = call.metadata.get('ClusterID')[0];
    metrics.csrCount.inc();
    let caller: Caller | undefined;
    const work = (async () => {
      try {
        caller = await deps.authenticator.authenticate(call);
      } catch (err) {
        metrics.authFailures.inc();
        const reason = isMeshcaError(err) ? err.message : String(err);
        log.warn('authentication failed', {
          requestId,
          clusterId,
          outcome: 'unauthenticated',
          code: isMeshcaError(err) ? err.code : 'UNKNOWN',
          reason,
        });
        callback({ code: grpc.status.UNAUTHENTICATED, details: AUTHENTICATION_FAILURE_MESSAGE });
        return;
      }
      const identity = `${caller.namespace}/${caller.serviceAccount}`;
      try {
        const request = call.request;
        const csr = parseCsr(request.csr ?? '');
        const ttlSeconds = resolveTtl(Number(request.validity_duration ?? 0), deps.ttl);
        const result = await deps.issuance().issue({
          caller,
          csr,
          csrPem: request.csr,
          ttlSeconds,
          certSigner: metadataString(request, 'CertSigner'),
          requestId,
        });
        metrics.issued.inc({ signer: result.signer });
        metrics.issuanceSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        log.info('certificate issued', {
          requestId,
          clusterId,
          caller: identity,
          via: caller.via,
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
        metrics.signErrors.inc({
          error: error.code,
          signer: metadataString(call.request, 'CertSigner') ?? '',
        });
        log.warn('certificate refused', {
          requestId,
          clusterId,
          caller: identity,
          outcome: 'refused',
          code: error.code,
          reason: error.message,
        });
        callback({ code: grpcStatusFor(error.kind), details: error.message });
      }
    })();
    void deps.track(work);
  };
}
