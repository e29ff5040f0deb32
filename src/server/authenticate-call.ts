// Who is calling: the bearer token of the call (Kubernetes-style service-account JWT), or else the
// client certificate of the TLS connection. Every failure is the same UNAUTHENTICATED to the caller.
import type * as grpc from '@grpc/grpc-js';
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import { unauthenticated } from '../errors.js';
import { callerFromCertificate } from '../identity/authenticate-certificate.js';
import type { Caller } from '../identity/caller.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import type { RejectedClientCertificates } from './rejected-client-certificates.js';

export interface CallAuthenticator {
  authenticate(call: grpc.ServerUnaryCall<unknown, unknown>): Promise<Caller>;
}

export function createCallAuthenticator(opts: {
  tokens: TokenVerifier;
  ca: Pick<CertificateAuthority, 'bundle'>;
  trustDomain: string;
  /** What TLS said about client certificates it did not accept (see rejected-client-certificates.ts). */
  rejectedCertificates?: RejectedClientCertificates;
}): CallAuthenticator {
  return {
    async authenticate(call) {
      const header = call.metadata.get('authorization')[0];
      if (typeof header === 'string' && header.length > 0) {
        const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
        if (!match)
          throw unauthenticated(
            'SERVER_AUTH_HEADER_MALFORMED',
            'the authorization header is not "Bearer <token>"',
          );
        return opts.tokens.verify(match[1]!);
      }
      const peer = call.getAuthContext?.()?.sslPeerCertificate;
      if (peer?.raw) {
        const bundle = opts.ca.bundle;
        return callerFromCertificate(peer.raw, {
          chain: bundle.chain,
          roots: bundle.roots,
          trustDomain: opts.trustDomain,
        });
      }
      const rejected = opts.rejectedCertificates?.reasonFor(call.getPeer());
      if (rejected) {
        throw unauthenticated(
          'SERVER_CLIENT_CERT_REJECTED',
          `the client certificate does not verify against the CA's roots: ${rejected}; renew with a token, or check that the workload trusts and uses this CA`,
        );
      }
      throw unauthenticated(
        'SERVER_NO_CREDENTIALS',
        'the call carries neither a bearer token nor a client certificate',
      );
    },
  };
}
