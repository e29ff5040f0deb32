// Fills the dashboard's model from what the CA process holds: the bundle in service (and, in RA
// mode, each signer's roots), issuance outcomes per minute, the issuance log, reloads and the staged
// root change. Every list is bounded: the page never holds more than a few hundred rows.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import type { LogEntry } from '../ca/issuance-log/entry.js';
import { searchEntries } from '../ca/issuance-log/search-entries.js';
import { readIssuanceRecords } from '../ca/rotation/issuance-record-files.js';
import { rotationProgress } from '../ca/rotation/rotation-progress.js';
import { readRotationState } from '../ca/rotation/rotation-state.js';
import {
  createDashboardHandler,
  DASHBOARD_PATH,
  type DashboardAccess,
} from '../http/dashboard/dashboard-handler.js';
import type {
  CertificateView,
  DashboardModel,
  IssuanceSearch,
  IssuanceView,
} from '../http/dashboard/dashboard-model.js';
import type { MeshConfig } from '../mesh/types.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import type { CertificateInfo } from '../pki/types.js';
import { ACTIVITY_MINUTES, type IssuanceActivity } from './issuance-activity.js';
import type { ReloadHistory } from './reload-history.js';

/** Rows of recent or found issuances on one page. */
export const ISSUANCES_SHOWN = 50;
/** Pending identities listed by name; the rest are counted. */
export const PENDING_SHOWN = 50;
/** Log bytes one page may read: recent entries need a few KiB, a search of a long log stops here. */
export const SEARCH_BYTES = 64 * 1024 * 1024;

const certificateView = (c: CertificateInfo): CertificateView => ({
  subject: c.subject,
  fingerprint: c.fingerprint256,
  keyType: c.keyDescription,
  serial: c.serialHex,
  notBefore: c.notBefore,
  notAfter: c.notAfter,
});

/** RA mode: each configured signer and the roots meshConfig.caCertificates lists for it. */
function signerRoots(config: MeshConfig | undefined): { name: string; roots: CertificateView[] }[] {
  if (!config?.raMode) return [];
  return config.signers.map(({ name }) => ({
    name,
    roots: config.caCertificates
      .filter((entry) => entry.certSigners.includes(name))
      .flatMap((entry) => entry.certificates.flatMap((pem) => parseCertificates(pem, entry.source)))
      .map(certificateView),
  }));
}

const issuanceView = (e: LogEntry): IssuanceView =>
  e.kind === 'break'
    ? {
        time: e.time,
        serial: '',
        kind: 'break',
        identity: e.damagedFile,
        signer: '',
        requester: '',
        notAfter: '',
      }
    : {
        time: e.time,
        serial: e.serial,
        kind: e.kind,
        identity: e.spiffeId ?? e.dnsNames.join(', '),
        signer: e.signer,
        requester: `${e.requester.via}: ${e.requester.subject}`,
        notAfter: e.notAfter,
      };

/** The log directories to read: the log's own, and each worker's under --workers N. */
export function logDirectories(dir: string): string[] {
  const workers = readdirSync(dir)
    .filter((name) => /^worker-\d+$/.test(name))
    .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))
    .map((name) => join(dir, name));
  return [dir, ...workers];
}

export async function issuancesFromLog(
  logDir: string | undefined,
  search: IssuanceSearch,
): Promise<NonNullable<DashboardModel['issuances']>> {
  const base = { search, entries: [], limit: ISSUANCES_SHOWN };
  if (!logDir)
    return {
      ...base,
      unavailable: 'the issuance log is off (--issuance-log off), so there is nothing to list',
    };
  try {
    const result = await searchEntries(logDirectories(logDir), {
      ...search,
      limit: ISSUANCES_SHOWN,
      maxBytes: SEARCH_BYTES,
    });
    return {
      ...base,
      entries: result.entries.map(issuanceView),
      ...(result.stoppedEarly
        ? {
            stoppedEarly: `searched the newest ${Math.round(result.bytesRead / 1048576)} MiB of the log only; "meshca log list" and "meshca log show" read all of it`,
          }
        : {}),
    };
  } catch (err) {
    return {
      ...base,
      unavailable: `the issuance log in ${logDir} cannot be read: ${(err as Error).message}`,
    };
  }
}

export async function rotationFromFiles(
  dataDir: string,
  now: Date,
): Promise<NonNullable<DashboardModel['rotation']>> {
  const none = { phase: 'none', pending: [], pendingTotal: 0, confirmed: 0 };
  try {
    const state = await readRotationState(dataDir);
    if (!state) return none;
    const progress = rotationProgress(state, await readIssuanceRecords(dataDir), now);
    return {
      phase: state.phase,
      pending: progress.pending.slice(0, PENDING_SHOWN).map((p) => ({ id: p.id, notAfter: p.notAfter })),
      pendingTotal: progress.pending.length,
      confirmed: progress.confirmed.length,
    };
  } catch (err) {
    return { ...none, phase: 'unknown', unavailable: (err as Error).message };
  }
}

export interface DashboardSources {
  ca: CertificateAuthority;
  config: () => MeshConfig | undefined;
  activity: IssuanceActivity;
  reloads: ReloadHistory;
  /** The issuance log's directory; undefined when the log is off. */
  logDir: string | undefined;
  /** The data directory, for the staged root change; undefined in the Kubernetes home. */
  dataDir: string | undefined;
}

export function dashboardData(
  sources: DashboardSources,
): (search: IssuanceSearch) => Promise<DashboardModel> {
  return async (search) => {
    const now = new Date();
    const bundle = sources.ca.bundle;
    return {
      now,
      hierarchy: {
        source: `${bundle.source} (${bundle.dir})`,
        roots: bundle.roots.map(certificateView),
        // A self-signed root signs by itself: it is then the signing certificate too.
        chain: (bundle.chain.length > 0 ? bundle.chain : [bundle.issuer.certificate]).map(certificateView),
        signers: signerRoots(sources.config()),
      },
      activity: { minutes: ACTIVITY_MINUTES, signers: sources.activity.snapshot(now) },
      issuances: await issuancesFromLog(sources.logDir, search),
      reloads: sources.reloads(),
      rotation: sources.dataDir
        ? await rotationFromFiles(sources.dataDir, now)
        : {
            phase: 'n/a',
            pending: [],
            pendingTotal: 0,
            confirmed: 0,
            unavailable: 'a staged root change (meshca rotate) belongs to the data-directory home',
          },
    };
  };
}

/** The monitoring port's /ui pages for this server. */
export function dashboardPages(access: DashboardAccess, sources: DashboardSources) {
  return {
    prefix: DASHBOARD_PATH,
    handle: createDashboardHandler({ ...access, load: dashboardData(sources) }),
  };
}

/**
 * The /ui pages of a --workers N primary: it holds no CA of its own (each worker loads the bundle,
 * counts its requests and reloads by itself), so it shows what it can read from files, every
 * worker's issuance log and the staged root change, and says so on the page.
 */
export function clusterDashboardPages(
  access: DashboardAccess,
  sources: { workers: number; logDir: string | undefined; dataDir: string },
) {
  const scope = `--workers ${sources.workers}: this page shows every worker's issuance log and the root rotation; the hierarchy, per-minute activity and reloads live in each worker (see /metrics, or run with --workers 1 for the full page)`;
  return {
    prefix: DASHBOARD_PATH,
    handle: createDashboardHandler({
      ...access,
      load: async (search) => {
        const now = new Date();
        return {
          now,
          scope,
          issuances: await issuancesFromLog(sources.logDir, search),
          rotation: await rotationFromFiles(sources.dataDir, now),
        };
      },
    }),
  };
}
