// Putting a jumbled chain (a cert-chain.pem written in any order) in order leaf → root, so the CA
// hands out and stores chains the way TLS peers expect them.
import { invalidInput } from '../errors.js';
import { certificateLabel as label } from './certificate-label.js';
import { isSelfIssued, issuerCandidates, uniqueCertificates } from './issuer-candidates.js';
import type { CertificateInfo } from './types.js';

const disconnected = (why: string) =>
  invalidInput(
    'PKI_CHAIN_DISCONNECTED',
    `the certificates do not form one chain: ${why}; a chain holds one leaf and the CAs above it, each issued by the next`,
  );

/**
 * Orders `certs` leaf first: the leaf is the one certificate that issued none of the others, and
 * each next one is its issuer (by name and key identifier). Exact duplicates are dropped.
 */
export function orderChain(certs: CertificateInfo[]): CertificateInfo[] {
  const all = uniqueCertificates(certs);
  if (all.length <= 1) return all;
  const issuedSomething = (c: CertificateInfo) =>
    all.some((other) => other !== c && issuerCandidates(other, [c]).length > 0);
  const leaves = all.filter((c) => !issuedSomething(c));
  if (leaves.length === 0)
    throw disconnected('every certificate issued another one here, so none is the leaf');
  if (leaves.length > 1) {
    throw disconnected(
      `${leaves.map((c) => `"${label(c)}"`).join(', ')} each issued none of the others, so there is more than one leaf`,
    );
  }
  const ordered = [leaves[0]!];
  for (;;) {
    const top = ordered[ordered.length - 1]!;
    if (isSelfIssued(top)) break;
    const rest = all.filter((c) => !ordered.includes(c));
    const [parent] = issuerCandidates(top, rest);
    if (!parent) break;
    ordered.push(parent);
  }
  if (ordered.length < all.length) {
    const strays = all.filter((c) => !ordered.includes(c));
    throw disconnected(
      `${strays.map((c) => `"${label(c)}"`).join(', ')} ${strays.length === 1 ? 'is' : 'are'} not on the path from "${label(ordered[0]!)}" to "${label(ordered[ordered.length - 1]!)}"`,
    );
  }
  return ordered;
}
