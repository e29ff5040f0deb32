// The real peer programs for tests (Istio's pilot-agent, step-ca, etcd, kube-apiserver, kubectl and
// helm): built from the pinned Go modules in peers/ on first use and cached. A test that needs a peer
// never skips: a peer that cannot be built fails the test with the build's reason.
import { ensurePeerBinary, type PeerName, peerMissingReason } from '../../peers/harness/peer-binary.js';

export type { PeerName } from '../../peers/harness/peer-binary.js';

/**
 * The peer's binary (`binary` picks one of a peer that builds several, e.g. kubernetes' kubectl);
 * throws, naming what is missing, when it cannot be built on this machine.
 */
export function peerBinary(name: PeerName, binary?: string): string {
  const bin = ensurePeerBinary(name, binary);
  if (!bin) throw new Error(`${peerMissingReason(name)}; run \`npm run peers\` to see why`);
  return bin;
}
