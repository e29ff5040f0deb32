// The wire contract: Istio's IstioCertificateService loaded from proto/ca.proto, shared by the
// server and every client (agent, `meshca csr`, benchmarks), so both ends read one definition.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_PATH = `/${CA_SERVICE_NAME}/CreateCertificate`;

export interface IstioCertificateRequest {
  csr: string;
  /** Seconds; proto int64 arrives as a string or number depending on loader options. */
  validity_duration?: number | string;
  metadata?: { fields?: Record<string, { stringValue?: string; kind?: string }> } | null;
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

/** Finds proto/ca.proto from src/ (tsx) and from dist/src/ (compiled) alike. */
function protoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto', 'ca.proto');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return join(process.cwd(), 'proto', 'ca.proto');
}

let cached: grpc.ServiceDefinition | undefined;

export function caServiceDefinition(): grpc.ServiceDefinition {
  if (cached) return cached;
  const packageDefinition = protoLoader.loadSync(protoPath(), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    istio: { v1: { auth: { IstioCertificateService: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.istio.v1.auth.IstioCertificateService.service;
  return cached;
}

export function caServiceClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(caServiceDefinition(), 'IstioCertificateService');
}

/** Reads a string field of the request's google.protobuf.Struct metadata. */
export function metadataString(req: IstioCertificateRequest, key: string): string | undefined {
  const value = req.metadata?.fields?.[key];
  return value?.stringValue || undefined;
}
