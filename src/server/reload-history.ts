// What the dashboard says about reloads: the bundle in service and since when, and the last change
// that was refused, with its reason (the CA kept the last good bundle), until the process stops.
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import type { DashboardModel } from '../http/dashboard/dashboard-model.js';

export type ReloadHistory = () => NonNullable<DashboardModel['reloads']>;

export function trackReloads(ca: CertificateAuthority, now = () => new Date()): ReloadHistory {
  let since = now();
  let refused: NonNullable<DashboardModel['reloads']>['lastRefused'];
  const recovered = () => {
    if (refused && !refused.recovered) refused = { ...refused, recovered: now() };
  };
  ca.on('bundle', () => {
    since = now();
    recovered();
  });
  ca.on('reload-unchanged', recovered);
  ca.on('reload-failed', ({ error }) => {
    refused = { at: now(), code: error.code, reason: error.message };
  });
  return () => {
    const signing = ca.bundle.issuer.certificate;
    return {
      inService: { since, subject: signing.subject, serial: signing.serialHex },
      ...(refused ? { lastRefused: refused } : {}),
    };
  };
}
