// Who a staged root change still waits for. An identity has confirmed once an issuance since
// prepare gave it every new root; one whose last certificate predates that and is still valid is
// pending: until it renews, it trusts the old roots only. (A certificate's lifetime is at most the
// maximum TTL, so "still valid" is the maximum-TTL window, narrowed to workloads that may be alive.)
import type { IssuanceRecords } from './issuance-records.js';
import type { RotationState } from './rotation-state.js';

export interface RotationProgress {
  confirmed: { id: string; at: Date }[];
  pending: { id: string; lastIssued: Date; notAfter: Date }[];
  /** When the last pending identity must have renewed: its certificate's expiry. */
  pendingUntil: Date | undefined;
  /** The latest expiry of a certificate issued under an old root, if still in the future. */
  oldRootCertificatesUntil: Date | undefined;
}

export function rotationProgress(
  state: RotationState,
  records: IssuanceRecords,
  now: Date,
): RotationProgress {
  const confirmed: RotationProgress['confirmed'] = [];
  const pending: RotationProgress['pending'] = [];
  for (const [id, r] of Object.entries(records.identities)) {
    const trusted = new Set(r.trusts);
    if (state.newRoots.every((f) => trusted.has(f))) confirmed.push({ id, at: new Date(r.at) });
    else if (Date.parse(r.notAfter) > now.getTime())
      pending.push({ id, lastIssued: new Date(r.at), notAfter: new Date(r.notAfter) });
  }
  const latest = (dates: Date[]) =>
    dates.length === 0 ? undefined : new Date(Math.max(...dates.map((d) => d.getTime())));
  const oldUntil = latest(
    state.oldRoots.flatMap((f) => (records.latestUnderRoot[f] ? [new Date(records.latestUnderRoot[f])] : [])),
  );
  confirmed.sort((a, b) => a.id.localeCompare(b.id));
  pending.sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
  return {
    confirmed,
    pending,
    pendingUntil: latest(pending.map((p) => p.notAfter)),
    oldRootCertificatesUntil: oldUntil && oldUntil.getTime() > now.getTime() ? oldUntil : undefined,
  };
}
