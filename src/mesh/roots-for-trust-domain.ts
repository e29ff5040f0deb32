// The roots `meshConfig.caCertificates` lists for a trust domain: what a workload needs to accept
// peers of that (possibly federated) trust domain.
import type { MeshConfig } from './types.js';

/** Every certificate (one PEM block each, without repeats) of the entries whose trustDomains name `trustDomain`. */
export function rootsForTrustDomain(config: MeshConfig, trustDomain: string): string[] {
  const roots = config.caCertificates
    .filter((entry) => entry.trustDomains.includes(trustDomain))
    .flatMap((entry) => entry.certificates);
  return [...new Set(roots)];
}
