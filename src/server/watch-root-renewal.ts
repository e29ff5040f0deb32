// Self-signed mode: checks the root at start and every `checkIntervalMs`, re-issues it with its key
// when less than `gracePercent` of its life is left (ca/renew-self-signed-root.ts), and reloads, so the
// new root signs and the trust bundle holds old and new. A failure is logged and tried again later.
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import {
  DEFAULT_ROOT_RENEWAL,
  type RootRenewalPolicy,
  renewSelfSignedRootIfDue,
} from '../ca/renew-self-signed-root.js';
import type { Logger } from '../log.js';
import type { CaMetrics } from './metrics.js';

const HOUR_MS = 3_600_000;

export type RootRenewalSettings = RootRenewalPolicy & { checkIntervalMs: number };

export function watchRootRenewal(opts: {
  dir: string;
  policy: RootRenewalSettings | undefined;
  ca: CertificateAuthority;
  metrics: CaMetrics;
  log: Logger;
}): { stop(): void } {
  const { ca, metrics, log } = opts;
  const policy = { ...DEFAULT_ROOT_RENEWAL, checkIntervalMs: HOUR_MS, ...opts.policy };
  const check = async () => {
    try {
      // A root key in a token (serve --ca-key) is the one the bundle in service signs with.
      const tokenKey = ca.mode.kind === 'self-signed' && ca.mode.caKey ? ca.bundle.issuer.key : undefined;
      const renewed = await renewSelfSignedRootIfDue(opts.dir, policy, new Date(), tokenKey);
      if (!renewed) return;
      metrics.rootRenewals.inc();
      log.info('self-signed root renewed with its key: old and new roots are both in the trust bundle', {
        event: 'root-renewed',
        previousSerial: renewed.previousSerial,
        previousNotAfter: renewed.previousNotAfter.toISOString(),
        serial: renewed.serial,
        notAfter: renewed.notAfter.toISOString(),
        roots: renewed.roots,
      });
      await ca.reload();
    } catch (err) {
      log.error('self-signed root renewal failed; trying again at the next check', {
        event: 'root-renewal-failed',
        reason: (err as Error).message,
      });
    }
  };
  void check();
  const timer = setInterval(() => void check(), policy.checkIntervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
