// A staged root change in the data-directory home, on the CA's side. `meshca rotate` writes the plan
// into <data-dir>/rotation/ atomically; the CA watches that folder, reloads (the plan shapes the
// bundle, ca/rotation/rotation-overlay.ts), records every issuance, and answers in
// <data-dir>/ca-status/: the bundle and revision in service, and the issuance records. Files rather
// than a port: they work whether or not the CA runs, survive restarts, and need no credentials.
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { BundleOverlay, CertificateAuthority } from '../ca/certificate-authority.js';
import { type InServiceRecord, summarize, writeInServiceRecord } from '../ca/rotation/in-service-record.js';
import { createIssuanceRecorder } from '../ca/rotation/issuance-records.js';
import { rotationPaths } from '../ca/rotation/rotation-files.js';
import { createRotationOverlay } from '../ca/rotation/rotation-overlay.js';
import { rotationProgress } from '../ca/rotation/rotation-progress.js';
import type { Issuance } from '../issuance/issuance.js';
import { makeDirectories } from '../lib/make-directories.js';
import { watchDirectory } from '../lib/watch-directory.js';
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

export async function startRotationInService(opts: {
  dataDir: string;
  log: Logger;
  registry: Registry;
  debounceMs?: number;
}): Promise<RotationInService> {
  const { dataDir, log } = opts;
  const paths = rotationPaths(dataDir);
  const rotation = createRotationOverlay(dataDir);
  const recorder = await createIssuanceRecorder(dataDir, {
    onWriteFailed: (err) =>
      log.warn('cannot write the issuance records; "meshca rotate status" may be behind', {
        event: 'issuance-records-write-failed',
        reason: err.message,
      }),
  });
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
  const pending = () => {
    const state = rotation.applied();
    if (!state || state.phase !== 'prepared') return 0;
    return rotationProgress(state, recorder.current(), new Date()).pending.length;
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
    collect() {
      this.set(pending());
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
        await writeInServiceRecord(dataDir, {
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
      // Made only once the CA is up, so that a start that fails leaves nothing behind.
      await makeDirectories(paths.dir);
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
      watch = watchDirectory(paths.dir, () => void opened.reload(), { debounceMs: opts.debounceMs ?? 100 });
      await report();
    },
    async close() {
      closed = true;
      watch?.close();
      await reporting;
      await recorder.close();
    },
  };
}
