// Istio's own certificate authority as a peer (peers/istio-ca: istiod's IstioCA, CA gRPC service and
// JWT authenticator in one small program), for the bench and its test: the files it reads and the
// command line that starts it. The caller spawns it (the bench pins it with taskset) and waits for
// the ready line.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../../src/index.js';

/** Istio's cacerts layout (the `cacerts` Secret's keys), as istiod reads a plugged CA. */
export const ISTIO_CACERTS_FILES = {
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  root: 'root-cert.pem',
} as const;

export interface IstioCacerts {
  /** The signing CA's certificate and unencrypted key (PEM). */
  certPem: string;
  keyPem: string;
  /** The signing certificate's chain up to the root, the signing certificate first (Istio's cert-chain.pem). */
  chainPem: string;
  rootPem: string;
}

/** Writes `dir` (made 0700 if missing) in Istio's cacerts layout (the key 0600, every file atomically). */
export async function writeIstioCacerts(dir: string, ca: IstioCacerts): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, ISTIO_CACERTS_FILES.cert), ca.certPem);
  await writeFileAtomic(join(dir, ISTIO_CACERTS_FILES.key), ca.keyPem, PRIVATE_FILE_MODE);
  await writeFileAtomic(join(dir, ISTIO_CACERTS_FILES.chain), ca.chainPem);
  await writeFileAtomic(join(dir, ISTIO_CACERTS_FILES.root), ca.rootPem);
}

export interface IstioCaArgs {
  /** A directory in the cacerts layout (writeIstioCacerts). */
  cacertsDir: string;
  /** The token issuer's JSON Web Key Set (every key naming its `alg`): meshca's `<data-dir>/issuer/jwks.json`. */
  jwksFile: string;
  /** The tokens' `iss`; the peer's default is meshca's embedded issuer. */
  issuer?: string;
  /** The audience tokens must carry; default `istio-ca`, as meshca and istiod use. */
  audience?: string;
  /** Istio's log level for every scope; default info (istiod's). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'none';
}

/** The arguments of the istio-ca binary: TLS gRPC on 127.0.0.1, a free port (announced in the ready line). */
export function istioCaArgs(o: IstioCaArgs): string[] {
  const args = ['--cacerts', o.cacertsDir, '--jwks', o.jwksFile, '--listen', '127.0.0.1:0'];
  if (o.issuer) args.push('--issuer', o.issuer);
  if (o.audience) args.push('--audience', o.audience);
  if (o.logLevel) args.push('--log-level', o.logLevel);
  return args;
}

/** The port in istio-ca's ready line (`{"msg":"istio-ca ready","address":"127.0.0.1:PORT"}`), or undefined for any other line. */
export function istioCaReadyPort(line: Record<string, unknown>): number | undefined {
  if (line.msg !== 'istio-ca ready' || typeof line.address !== 'string') return undefined;
  const port = Number(line.address.split(':').pop());
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
