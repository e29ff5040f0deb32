// The inbound admission check after a TLS handshake: the client's chain must end in one of our
// roots and its leaf must name a SPIFFE ID in a trust domain we accept.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { peerSpiffeId, trustDomainOf } from './peer-identity.js';

export type PeerDecision =
  | { allowed: true; spiffeId: string /** sha256 of the leaf DER, hex (XFCC's Hash). */; hash: string }
  | { allowed: false; peer: string | null; reason: string };

/**
 * Decides on a server-side socket whose handshake requested a client certificate without letting
 * Node reject it: Node would close an unverified connection without saying why, and an operator
 * debugging a refused workload needs the verification error.
 */
export function authorizePeer(socket: TLSSocket, trustDomains: readonly string[]): PeerDecision {
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) {
    return { allowed: false, peer: null, reason: 'the client presented no certificate' };
  }
  const spiffeId = peerSpiffeId(cert);
  const peer = spiffeId ?? cert.subjectaltname ?? null;
  if (!socket.authorized) {
    return {
      allowed: false,
      peer,
      reason: `the client certificate chain does not verify against root-cert.pem: ${String(socket.authorizationError)}`,
    };
  }
  if (!spiffeId) {
    return { allowed: false, peer, reason: 'the client certificate has no spiffe:// URI SAN' };
  }
  const trustDomain = trustDomainOf(spiffeId)!;
  if (!trustDomains.includes(trustDomain)) {
    return {
      allowed: false,
      peer,
      reason: `trust domain "${trustDomain}" is not one of ${trustDomains.join(', ')}`,
    };
  }
  return { allowed: true, spiffeId, hash: createHash('sha256').update(cert.raw).digest('hex') };
}
