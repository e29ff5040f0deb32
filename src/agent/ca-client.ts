// A small client for Istio's certificate service: sends a CSR with a bearer token (or over mutual
// TLS with the workload's current certificate) and returns the chain. Used by the agent, by
// `meshca csr` and by the benchmarks.
import * as grpc from '@grpc/grpc-js';
import {
  caServiceClientConstructor,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from '../api/ca-service.js';
import { type ErrorCode, MeshcaError, meshcaErrorArgs } from '../errors.js';

export interface CaClientOptions {
  /** `host:port` of the CA. */
  address: string;
  /** PEM roots that the CA's serving certificate must chain to. */
  rootsPem: string;
  /** Name checked in the CA's certificate; Istio agents use istiod's. */
  serverName?: string;
  /** Client certificate for renewal over mutual TLS instead of a token. */
  clientCertificate?: { certChainPem: string; keyPem: string };
  /** Extra gRPC channel options (the agent asks for a private subchannel pool, see agent/fetch-credentials.ts). */
  channelOptions?: grpc.ChannelOptions;
}

export interface CreateCertificateOptions {
  csrPem: string;
  /** A service-account JWT; omitted when authenticating with the client certificate. */
  token?: string;
  ttlSeconds?: number;
  certSigner?: string;
  clusterId?: string;
  deadlineMs?: number;
  /** Aborting cancels the call (it then fails with CANCELLED), so a closing agent need not wait for it. */
  signal?: AbortSignal;
}

/** The code of a failed call: `CA_CALL_` and the gRPC status's name; its kind is in error-codes.ts. */
export type CaCallCode = Extract<ErrorCode, `CA_CALL_${string}`>;

/** One code per gRPC status a call can fail with (every status but OK). */
const CA_CALL_CODES = {
  [grpc.status.CANCELLED]: 'CA_CALL_CANCELLED',
  [grpc.status.UNKNOWN]: 'CA_CALL_UNKNOWN',
  [grpc.status.INVALID_ARGUMENT]: 'CA_CALL_INVALID_ARGUMENT',
  [grpc.status.DEADLINE_EXCEEDED]: 'CA_CALL_DEADLINE_EXCEEDED',
  [grpc.status.NOT_FOUND]: 'CA_CALL_NOT_FOUND',
  [grpc.status.ALREADY_EXISTS]: 'CA_CALL_ALREADY_EXISTS',
  [grpc.status.PERMISSION_DENIED]: 'CA_CALL_PERMISSION_DENIED',
  [grpc.status.RESOURCE_EXHAUSTED]: 'CA_CALL_RESOURCE_EXHAUSTED',
  [grpc.status.FAILED_PRECONDITION]: 'CA_CALL_FAILED_PRECONDITION',
  [grpc.status.ABORTED]: 'CA_CALL_ABORTED',
  [grpc.status.OUT_OF_RANGE]: 'CA_CALL_OUT_OF_RANGE',
  [grpc.status.UNIMPLEMENTED]: 'CA_CALL_UNIMPLEMENTED',
  [grpc.status.INTERNAL]: 'CA_CALL_INTERNAL',
  [grpc.status.UNAVAILABLE]: 'CA_CALL_UNAVAILABLE',
  [grpc.status.DATA_LOSS]: 'CA_CALL_DATA_LOSS',
  [grpc.status.UNAUTHENTICATED]: 'CA_CALL_UNAUTHENTICATED',
} as const satisfies { [S in Exclude<grpc.status, grpc.status.OK>]: CaCallCode };

/** The code for a call that failed with `grpcCode`; a status outside gRPC's list counts as UNKNOWN. */
export function caCallCode(grpcCode: grpc.status): CaCallCode {
  return (CA_CALL_CODES as Partial<Record<number, CaCallCode>>)[grpcCode] ?? 'CA_CALL_UNKNOWN';
}

/** A gRPC failure, with the status so callers can decide to retry. */
export class CaCallError extends MeshcaError {
  declare readonly code: CaCallCode;
  readonly grpcCode: grpc.status;
  /** `message`: what to tell the operator instead of the CA's answer (a connection that never happened). */
  constructor(grpcCode: grpc.status, details: string, message?: string) {
    super(
      ...meshcaErrorArgs(
        caCallCode(grpcCode),
        message ?? `the CA answered ${grpc.status[grpcCode]}: ${details}`,
      ),
    );
    this.grpcCode = grpcCode;
  }
}

/**
 * What to check when no connection to the CA could be made, from grpc-js's "No connection
 * established. Last error: …" (which ends in an empty "Resolution note:"). Undefined when the
 * failure is not a connection failure, or not one we can explain better than the CA's answer.
 */
export function explainConnectionFailure(
  details: string,
  address: string,
  serverName: string,
): string | undefined {
  const last = /Last error: (?:Error: )?(.*?)(?:\.?\s*Resolution note:.*)?$/s.exec(details)?.[1]?.trim();
  if (!last) return undefined;
  const at = `cannot connect to the CA at ${address}`;
  if (/ECONNREFUSED/.test(last))
    return `${at}: nothing listens there (connection refused); check --ca-addr (CA_ADDR) and that "meshca serve" is running`;
  if (/ENOTFOUND|EAI_AGAIN/.test(last))
    return `${at}: the name ${address.replace(/:\d+$/, '')} does not resolve; check --ca-addr (CA_ADDR)`;
  if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/.test(last))
    return `${at}: no answer (${last}); check the address and any firewall in between`;
  if (/altnames|ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate/i.test(last))
    return `${at}: the name ${serverName} is not in the CA's certificate (${last}); connect by a name the certificate covers, or start the CA with --host ${serverName}`;
  if (/expired/i.test(last))
    return `${at}: the CA's certificate has expired (${last}); check the CA's clock and bundle`;
  if (/self[- ]signed|unable to (get|verify)|certificate signature failure|unknown ca/i.test(last))
    return `${at}: the CA's certificate does not chain to --ca-root (${last}); get the CA's roots with "meshca root-cert" and pass that file`;
  return `${at}: ${last}`;
}

export interface CaClient {
  createCertificate(opts: CreateCertificateOptions): Promise<string[]>;
  close(): void;
}

export function createCaClient(opts: CaClientOptions): CaClient {
  const Client = caServiceClientConstructor();
  const credentials = grpc.credentials.createSsl(
    Buffer.from(opts.rootsPem),
    opts.clientCertificate ? Buffer.from(opts.clientCertificate.keyPem) : null,
    opts.clientCertificate ? Buffer.from(opts.clientCertificate.certChainPem) : null,
  );
  const client = new Client(opts.address, credentials, {
    'grpc.ssl_target_name_override': opts.serverName ?? 'istiod.istio-system.svc',
    'grpc.default_authority': opts.serverName ?? 'istiod.istio-system.svc',
    ...opts.channelOptions,
  });
  return {
    createCertificate(call) {
      const metadata = new grpc.Metadata();
      if (call.token) metadata.set('authorization', `Bearer ${call.token}`);
      if (call.clusterId) metadata.set('ClusterID', call.clusterId);
      const request: IstioCertificateRequest = {
        csr: call.csrPem,
        validity_duration: call.ttlSeconds ?? 0,
        metadata: call.certSigner ? { fields: { CertSigner: { stringValue: call.certSigner } } } : null,
      };
      const deadline = Date.now() + (call.deadlineMs ?? 30_000);
      return new Promise((resolve, reject) => {
        const pending = (
          client as unknown as {
            CreateCertificate(
              r: IstioCertificateRequest,
              m: grpc.Metadata,
              o: grpc.CallOptions,
              cb: (err: grpc.ServiceError | null, res?: IstioCertificateResponse) => void,
            ): grpc.ClientUnaryCall;
          }
        ).CreateCertificate(request, metadata, { deadline }, (err, res) => {
          if (err) {
            const details = err.details || err.message;
            const explained =
              err.code === grpc.status.UNAVAILABLE
                ? explainConnectionFailure(
                    details,
                    opts.address,
                    opts.serverName ?? 'istiod.istio-system.svc',
                  )
                : undefined;
            reject(new CaCallError(err.code, details, explained));
          } else resolve(res?.cert_chain ?? []);
        });
        if (call.signal?.aborted) pending.cancel();
        else call.signal?.addEventListener('abort', () => pending.cancel(), { once: true });
      });
    },
    close: () => client.close(),
  };
}
