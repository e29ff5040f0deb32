// The roots a workload of one external signer trusts: what `meshConfig.caCertificates` lists for that
// signer, so that workloads of different signers cannot talk mutual TLS to each other.
import { fullSignerName } from './full-signer-name.js';
import type { MeshConfig } from './types.js';

/** Every certificate (one PEM block each, without repeats) of the entries whose certSigners name `signer`. */
export function rootsForSigner(config: MeshConfig, signer: string): string[] {
  const full = fullSignerName(signer, config);
  const roots = config.caCertificates
    .filter((entry) => entry.certSigners.includes(full))
    .flatMap((e) => e.certificates);
  return [...new Set(roots)];
}
