// The benchmark's results as written to latest.json, and the small helpers that read and format
// them for the targets and the tables.
import type { HostileInputResult } from '../hostile-inputs.js';
import type { CountResult, WindowResult } from '../loadgen.js';
import type { MicroResult } from '../micro.js';
import type { ProfileSummary } from './profile.js';
import type { Summary } from './stats.js';

export type Stats<T> = { [K in keyof T as T[K] extends number ? K : never]: Summary };

/**
 * Client connections for `inFlight` requests to meshca: one per request up to 8. Agents each keep
 * their own connection to the CA, and `meshca serve --workers N` hands out connections, not
 * requests, so one connection would keep every request on one worker.
 */
export function connectionsFor(inFlight: number): number {
  return Math.min(inFlight, 8);
}

/** The servers measured end to end: meshca and the peers it is compared with. */
export type ServerKind = 'meshca' | 'istio-ca' | 'cfssl' | 'step-ca';

/** The peers, in the order the tables show them, with the name a reader knows them by. */
export const PEERS = [
  { server: 'istio-ca', label: "Istio's CA" },
  { server: 'cfssl', label: 'cfssl' },
  { server: 'step-ca', label: 'step-ca' },
] as const;
export type PeerKind = (typeof PEERS)[number]['server'];

/** Whether the server speaks Istio's gRPC API (and gets meshca's connection spread) or HTTPS/1.1. */
export function speaksGrpc(server: ServerKind): boolean {
  return server === 'meshca' || server === 'istio-ca';
}

export interface E2eVariant {
  key: string;
  server: ServerKind;
  ca: string;
  concurrency: number;
  /** Client connections (meshca); cfssl's HTTP/1.1 keep-alive pool has one per request in flight. */
  connections: number;
  /** `meshca serve --workers` (1 for cfssl: one process, GOMAXPROCS threads). */
  workers: number;
  /** 'pinned' (server on core 0, load generator on core 1) or 'shared' (both on both cores). */
  cores: 'pinned' | 'shared';
  /** meshca's issuance log (--issuance-log); absent in older results, where it did not exist: on. */
  issuanceLog?: boolean;
  stats: Stats<WindowResult>;
  errors: number;
  firstError?: string;
}

export interface Results {
  meta: Record<string, unknown>;
  micro: Record<string, Stats<MicroResult>>;
  e2e: E2eVariant[];
  burst: {
    name: string;
    connections: number;
    agents: number;
    firstMs: Summary;
    p50Ms: Summary;
    lastMs: Summary;
    /** Server CPU for the whole burst (TLS handshakes included) per certificate. */
    serverCpuUsPerCert: Summary;
    clientCpuUsPerCert: Summary;
    failures: number;
    firstError?: string;
  }[];
  memory?: CountResult & {
    beforeMb: number;
    afterMb: number;
    /** Highest RSS of the second half minus that of the first; likewise the lowest. */
    peakGrowthMb: number;
    troughGrowthMb: number;
    concurrency: number;
  };
  profile?: ProfileSummary & { concurrency: number; seconds: number };
  /** Refusing inputs that once took seconds, beside a well-made input of the same parser. */
  hostileInputs?: HostileInputResult[];
  cfssl: { available: boolean; reason?: string };
  /** Istio's CA and step-ca, built from peers/ (absent in results older than them). */
  peers?: Partial<Record<'istio-ca' | 'step-ca', { available: boolean; version?: string; reason?: string }>>;
  derived: Record<string, number>;
  targets: { target: string; figure: string; met: boolean | null }[];
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median (min–max)` with a precision that suits the magnitude. */
export function fmtS(s: Summary | undefined, digits?: number): string {
  if (!s || !Number.isFinite(s.median)) return '–';
  const d = digits ?? (Math.abs(s.median) >= 100 ? 0 : Math.abs(s.median) >= 10 ? 1 : 2);
  return `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`;
}

export function findE2e(
  r: Results,
  server: string,
  ca: string,
  concurrency: number,
  cores = 'pinned',
  workers = 1,
  issuanceLog = true,
) {
  return r.e2e.find(
    (v) =>
      v.server === server &&
      v.ca === ca &&
      v.concurrency === concurrency &&
      v.cores === cores &&
      (v.workers ?? 1) === workers &&
      (v.issuanceLog ?? true) === issuanceLog,
  );
}
