// What the CA serves in each phase of a staged root change, from the bundle of its own files (old)
// and the new bundle given to `prepare`. Signing moves only at activate and trust only widens until
// finish, so at every moment each workload trusts the root of every certificate a peer may hold.

import { ISTIO_FILES } from '../read-bundle-files.js';
import { buildSigningBundle, type SigningBundle } from '../signing-bundle.js';
import type { RotationPhase } from './rotation-state.js';

const fingerprints = (bundle: SigningBundle) => bundle.roots.map((r) => r.fingerprint256);

/** True when the CA's own files already hold the new roots: the rotation is over and has nothing to add. */
export function holdsNewRoots(own: SigningBundle, next: SigningBundle): boolean {
  const own_ = new Set(fingerprints(own));
  return fingerprints(next).every((f) => own_.has(f)) && own_.size === next.roots.length;
}

/** `signer`'s key and chain, with `roots` as the trust bundle (old roots first). */
function withRoots(signer: SigningBundle, roots: SigningBundle['roots']): SigningBundle {
  return buildSigningBundle({
    signingCert: signer.issuer.certificate,
    key: signer.issuer.key,
    chainCandidates: [...signer.chain],
    roots: [...roots],
    source: signer.source,
    dir: signer.dir,
    files: ISTIO_FILES,
  });
}

export function bundleForPhase(phase: RotationPhase, own: SigningBundle, next: SigningBundle): SigningBundle {
  if (holdsNewRoots(own, next)) return own;
  const seen = new Set(fingerprints(own));
  const both = [...own.roots, ...next.roots.filter((r) => !seen.has(r.fingerprint256))];
  switch (phase) {
    case 'prepared':
      return withRoots(own, both);
    case 'activated':
      return withRoots(next, both);
    case 'finished':
      return next;
    default: {
      const unreachable: never = phase;
      return unreachable;
    }
  }
}
