// What the CA in service tells the operator as its bundle changes: a new bundle (and whether the
// root changed), a refused reload (the last good bundle keeps serving), and the first good reload
// after a refused one, so the operator knows their fix worked.
import { type CertificateAuthority, whereOf } from '../ca/certificate-authority.js';
import type { SigningBundle } from '../ca/signing-bundle.js';
import type { Logger } from '../log.js';
import type { CaMetrics } from './metrics.js';

export function reportCaEvents(
  ca: CertificateAuthority,
  opts: {
    log: Logger;
    metrics: CaMetrics;
    /** Called first for each new bundle: what else must follow it (serving certificate, published roots). */
    onBundle(next: SigningBundle, rootChanged: boolean): void;
  },
): void {
  const { log, metrics } = opts;
  let reloadFailing = false;
  const recovered = (dir: string, changed: boolean) => {
    if (!reloadFailing) return;
    reloadFailing = false;
    log.info(
      changed
        ? 'CA bundle reload recovered: the fixed bundle is in service'
        : 'CA bundle reload recovered: the directory is valid again (the bundle in service is unchanged)',
      { event: 'ca-reload-recovered', dir, changed },
    );
  };
  ca.on('bundle', ({ bundle: next, previous, rootChanged }) => {
    metrics.trackBundle(next);
    opts.onBundle(next, rootChanged);
    log.info('CA bundle reloaded', {
      event: 'ca-reloaded',
      signingCert: next.issuer.certificate.subject,
      serial: next.issuer.certificate.serialHex,
      previousSerial: previous.issuer.certificate.serialHex,
      rootChanged,
    });
    if (rootChanged)
      log.warn('the root of trust changed: workloads get the new trust bundle on their next renewal', {
        event: 'root-changed',
        roots: next.roots.map((r) => r.subject),
      });
    for (const warning of next.warnings) log.warn(warning, { event: 'ca-expiry-warning' });
    recovered(whereOf(ca.mode), true);
  });
  ca.on('reload-unchanged', ({ dir }) => recovered(dir, false));
  ca.on('reload-failed', ({ error, dir }) => {
    reloadFailing = true;
    metrics.reloadFailures.inc();
    log.error('CA bundle reload refused; the last good bundle keeps serving', {
      event: 'ca-reload-failed',
      dir,
      code: error.code,
      reason: error.message,
    });
  });
}
