// A small client for Istio's certificate service: sends a CSR with a bearer token (or over mutual
// TLS with the workload's current certificate) and returns the chain. Used by the agent, by
// `meshca csr` and by the benchmarks.
import * as grpc from '@grpc/grpc-js';
import {
  caServiceClientConstructor,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from '../api/ca-service.js';
import { type ErrorKind, MeshcaError } from '../errors.js';

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

/** A gRPC failure, with the status so callers can decide to retry. */
export class CaCallError extends MeshcaError {
  readonly grpcCode: grpc.status;
  constructor(grpcCode: grpc.status, details: string) {
    super(
      `CA_CALL_${grpc.status[grpcCode] ?? grpcCode}`,
      kindOf(grpcCode),
      `the CA answered ${grpc.status[grpcCode]}: ${details}`,
    );
    this.grpcCode = grpcCode;
  }
}

function kindOf(code: grpc.status): ErrorKind {
  switch (code) {
    case grpc.status.INVALID_ARGUMENT:
      return 'invalid-input';
    case grpc.status.UNAUTHENTICATED:
      return 'unauthenticated';
    case grpc.status.PERMISSION_DENIED:
      return 'permission-denied';
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.ABORTED:
      return 'unavailable';
    default:
      return 'internal';
  }
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
          if (err) reject(new CaCallError(err.code, err.details || err.message));
          else resolve(res?.cert_chain ?? []);
        });
        if (call.signal?.aborted) pending.cancel();
        else call.signal?.addEventListener('abort', () => pending.cancel(), { once: true });
      });
    },
    close: () => client.close(),
  };
}
