// A staged root change on the CA's side, in either home. The commands (`meshca rotate`) write the
// plan; the home (ca/rotation/data-dir-rotation.ts, kubernetes/rotation/) tells this module when it
// changes; the CA reloads (the plan shapes the bundle, ca/rotation/rotation-overlay.ts), records every
// issuance, and reports back what it has in service, so a command can wait for its step to apply.
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { BundleOverlay, CertificateAuthority } from '../ca/certificate-authority.js';
import { type InServiceRecord, summarize } from '../ca/rotation/in-service-record.js';
import type { RotationInServiceHome } from '../ca/rotation/rotation-home.js';
import { rotationProgress } from '../ca/rotation/rotation-progress.js';
import type { Issuance } from '../issuance/issuance.js';
import type { Logger } from '../log.js';
import { recordIssuances } from './record-issuances.js';

const PHASES = ['none', 'prepared', 'activated', 'finished'] as const;

export interface RotationInService {
  overlay: BundleOverlay;
  /** The issuance for one request, recording what it issues. */
  recording(issuance: Issuance): Issuance;
  /** Starts watching the plan and reporting what is in service; call once the CA is open. */
  attach(ca: CertificateAuthority): Promise<void>;
  close(): Promise<void>;
}

/** For a home's records writer: what to log when the records cannot be written. */
export const warnRecordsWriteFailed = (log: Logger) => (err: Error) =>
  log.warn('cannot write the issuance records; "meshca rotate status" may be behind', {
    event: 'issuance-records-write-failed',
    reason: err.message,
  });

export async function startRotationInService(opts: {
  home: RotationInServiceHome;
  log: Logger;
  registry: Registry;
}): Promise<RotationInService> {
  const { home, log } = opts;
  const { rotation, recorder } = home;
  const recording = recordIssuances(recorder, (err) =>
    log.warn('an issuance could not be recorded for root rotation', {
      event: 'issuance-record-failed',
      reason: err.message,
    }),
  );
  let ca: CertificateAuthority | undefined;
  let watch: { close(): void } | undefined;
  let lastChange: InServiceRecord['lastChange'];
  let refused: InServiceRecord['refused'];
  let loggedRevision = 0;
  let reporting: Promise<void> = Promise.resolve();
  // A reload still in flight at shutdown must not write into a data directory being released.
  let closed = false;

  const phase = () => rotation.applied()?.phase ?? 'none';
  // Every process's records (every worker, every replica): each sees only its own issuances.
  const pending = async () => {
    const state = rotation.applied();
    if (!state || state.phase !== 'prepared') return 0;
    return rotationProgress(state, await home.readRecords(), new Date()).pending.length;
  };
  new Gauge({
    name: 'meshca_rotation_phase',
    help: 'The phase of a staged root change (meshca rotate): 1 for the phase in force, 0 for the others.',
    labelNames: ['phase'],
    registers: [opts.registry],
    aggregator: 'max',
    collect() {
      for (const p of PHASES) this.set({ phase: p }, p === phase() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'meshca_rotation_pending_identities',
    help: 'Workload identities holding a valid certificate that have not received the new root since prepare.',
    registers: [opts.registry],
    aggregator: 'max',
    async collect() {
      // The other processes' records may be out of reach a moment (the API server): keep the last
      // value rather than fail the whole page.
      const count = await pending().catch(() => undefined);
      if (count !== undefined) this.set(count);
    },
  });
  new Gauge({
    name: 'meshca_ca_certificate_expiry_timestamp',
    help: 'Unix time (s) when each root of the trust bundle and each certificate of the signing chain expires.',
    labelNames: ['role', 'serial'],
    registers: [opts.registry],
    aggregator: 'min',
    collect() {
      this.reset();
      if (!ca) return;
      const b = ca.bundle;
      for (const r of b.roots) this.set({ role: 'root', serial: r.serialHex }, r.notAfter.getTime() / 1000);
      for (const c of [b.issuer.certificate, ...b.chain])
        this.set({ role: 'intermediate', serial: c.serialHex }, c.notAfter.getTime() / 1000);
    },
  });

  const report = () => {
    reporting = reporting.then(async () => {
      if (!ca || closed) return;
      const state = rotation.applied();
      const revision = state?.revision ?? 0;
      if (state && revision !== loggedRevision) {
        const prog = rotationProgress(state, recorder.current(), new Date());
        log.info(`root rotation ${state.phase}`, {
          event: 'rotation-phase',
          phase: state.phase,
          revision,
          signingCert: ca.bundle.issuer.certificate.subject,
          signingSerial: ca.bundle.issuer.certificate.serialHex,
          roots: ca.bundle.roots.map((r) => r.serialHex),
          pending: prog.pending.length,
          ...(state.forcedPast ? { forcedPast: state.forcedPast } : {}),
        });
        loggedRevision = revision;
      }
      // The records first: a command that sees the new revision then also sees every issuance before it.
      await recorder.flush();
      const b = ca.bundle;
      try {
        await home.writeInService({
          pid: process.pid,
          writtenAt: new Date().toISOString(),
          appliedRevision: revision,
          phase: phase(),
          ownFilesHoldNewRoots: rotation.ownFilesHoldNewRoots(),
          signing: summarize(b.issuer.certificate),
          intermediates: b.chain.map(summarize),
          roots: b.roots.map(summarize),
          ...(lastChange ? { lastChange } : {}),
          ...(refused ? { refused } : {}),
        });
      } catch (err) {
        log.warn('cannot write the CA status for "meshca rotate"', {
          event: 'ca-status-write-failed',
          reason: (err as Error).message,
        });
      }
    });
    return reporting;
  };

  return {
    overlay: rotation.overlay,
    recording,
    async attach(opened) {
      ca = opened;
      opened.on('bundle', ({ bundle, previous, rootChanged }) => {
        refused = undefined;
        lastChange = {
          at: new Date().toISOString(),
          kind: rootChanged ? 'roots' : 'intermediate',
          previousSerial: previous.issuer.certificate.serialHex,
          serial: bundle.issuer.certificate.serialHex,
        };
        void report();
      });
      opened.on('reload-unchanged', () => {
        refused = undefined;
        void report();
      });
      opened.on('reload-failed', ({ error }) => {
        refused = { at: new Date().toISOString(), code: error.code, reason: error.message };
        void report();
      });
      watch = await home.watchPlan(() => void opened.reload());
      await report();
    },
    async close() {
      closed = true;
      watch?.close();
      await reporting;
      await home.close();
    },
  };
}
