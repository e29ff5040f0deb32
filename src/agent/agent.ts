// The workload agent (the certificate half of Istio's pilot-agent): keeps a valid workload
// certificate in Istio's three files, renewing it before it expires and riding out CA outages.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { internalError, invalidInput, isMeshcaError, type MeshcaError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import { type AgentMetrics, CSR_REQUEST_TYPE, createAgentMetrics } from './agent-metrics.js';
import { createBackoff, MIN_RENEWAL_DELAY_MS, renewalTime } from './backoff.js';
import { CaCallError } from './ca-client.js';
import {
  type FetchCredentialsOptions,
  type FetchedCredentials,
  fetchCredentials,
} from './fetch-credentials.js';
import { type StatusServer, startStatusServer } from './status-server.js';
import { readCredentials } from './write-credentials.js';

export interface AgentOptions extends Omit<FetchCredentialsOptions, 'signal' | 'onRequest' | 'ttlSeconds'> {
  /** Requested lifetime; 24h unless given (Istio's SECRET_TTL). */
  ttlSeconds?: number;
  /** Fraction of the lifetime left when renewing (Istio's SECRET_GRACE_PERIOD_RATIO); 0.5 unless given. */
  graceRatio?: number;
  /** The status port (/healthz, /metrics): 0 picks a free port, null or absent turns it off. */
  statusPort?: number | null;
  /** Address the status port listens on; 127.0.0.1 unless given. */
  statusHost?: string;
  /** How long to wait after the CA refused a request (bad token, identity, CSR); 30 s unless given. */
  refusedRetryMs?: number;
  /** Backoff while the CA cannot be reached; 100 ms doubling up to 60 s unless given. */
  backoff?: { initialMs?: number; maxMs?: number };
  log: Logger;
  now?: () => Date;
}

export interface IssuedEvent {
  serialHex: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  /** root-cert.pem changed with this issuance (also true for the first write into an empty directory). */
  rootChanged: boolean;
  /** When the agent will renew this certificate. */
  renewAt: Date;
}

export interface RetryInfo {
  /** The CA could not be reached (retried with backoff) rather than refusing (retried slowly). */
  transient: boolean;
  retryInMs: number;
  /** Failures in a row, this one included. */
  failures: number;
}

export type AgentEvents = {
  issued: [IssuedEvent];
  /** Emitted only when someone listens: every failure is logged anyway, and an unheard 'error' would crash. */
  error: [MeshcaError, RetryInfo];
};

export interface Agent extends EventEmitter<AgentEvents> {
  /** The status port in use, or undefined when it is off. */
  readonly statusPort: number | undefined;
  readonly metrics: AgentMetrics;
  /** The certificate in place now, if any. */
  current(): { serialHex: string; spiffeId: string; notAfter: Date } | undefined;
  /** Whether a valid certificate is in place, and why not. */
  health(): { ok: boolean; detail: string };
  /** Whether a renewal (or a retry) is waiting to run, or a request is in flight: false once closed. */
  renewalPending(): boolean;
  /** Stops renewing (cancelling a request in flight) and closes the status port. */
  close(): Promise<void>;
}

const DEFAULT_TTL_SECONDS = 24 * 3600;
const DEFAULT_REFUSED_RETRY_MS = 30_000;
// Node fires longer timers at once; a 90-day certificate renews 45 days out, so long waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Failures that say nothing about the request itself: the CA (or the way to it) is down or busy. */
function isTransient(err: MeshcaError): boolean {
  if (!(err instanceof CaCallError)) return false;
  if (err.kind === 'unavailable' || err.grpcCode === grpc.status.CANCELLED) return true;
  // grpc-js reports some connection failures (a reset mid-call, a refused HTTP/2 stream) as
  // INTERNAL or UNKNOWN whose text says the peer is unavailable.
  return (
    (err.grpcCode === grpc.status.INTERNAL || err.grpcCode === grpc.status.UNKNOWN) &&
    /unavailable|ECONNRESET|ECONNREFUSED|connection (reset|closed|dropped)|RST_STREAM|GOAWAY/i.test(
      err.message,
    )
  );
}

const asMeshcaError = (err: unknown): MeshcaError =>
  isMeshcaError(err)
    ? err
    : internalError('AGENT_ROUND_FAILED', `getting a certificate failed unexpectedly: ${String(err)}`, err);

class WorkloadAgent extends EventEmitter<AgentEvents> implements Agent {
  readonly metrics: AgentMetrics;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly backoff;
  private readonly abort = new AbortController();
  private held: { serialHex: string; spiffeId: string; notAfter: Date } | undefined;
  private lastFailure: string | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private closed = false;
  private status: StatusServer | undefined;

  constructor(private readonly opts: AgentOptions) {
    super();
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log;
    this.backoff = createBackoff(opts.backoff);
    this.metrics = createAgentMetrics({ certificateExpiry: () => this.held?.notAfter, now: this.now });
  }

  get statusPort(): number | undefined {
    return this.status?.port;
  }

  current() {
    return this.held;
  }

  renewalPending(): boolean {
    return this.timer !== undefined || this.round !== undefined;
  }

  health(): { ok: boolean; detail: string } {
    const failing = this.lastFailure ? `; the last request failed: ${this.lastFailure}` : '';
    if (!this.held) {
      return {
        ok: false,
        detail: `no workload certificate yet${failing || ' (the first request is in progress)'}`,
      };
    }
    const { serialHex, spiffeId, notAfter } = this.held;
    if (notAfter.getTime() <= this.now().getTime()) {
      return {
        ok: false,
        detail: `the certificate ${serialHex} expired at ${notAfter.toISOString()}${failing}`,
      };
    }
    return { ok: true, detail: `ok: ${spiffeId} serial ${serialHex}, valid until ${notAfter.toISOString()}` };
  }

  /** A certificate a previous run left in place counts until the first round replaces it. */
  async adoptExisting(): Promise<void> {
    const existing = await readCredentials(this.opts.outputDir);
    if (!existing) return;
    try {
      const leaf = parseCertificates(existing.certChainPem, 'cert-chain.pem')[0]!;
      if (leaf.notAfter.getTime() <= this.now().getTime()) return;
      this.held = { serialHex: leaf.serialHex, spiffeId: leaf.uris[0] ?? '', notAfter: leaf.notAfter };
      this.log.info('found a certificate from an earlier run; replacing it now', {
        serial: leaf.serialHex,
        notAfter: leaf.notAfter.toISOString(),
      });
    } catch (err) {
      this.log.debug('ignoring unreadable files from an earlier run', { reason: asMeshcaError(err).message });
    }
  }

  async startStatus(host: string, port: number): Promise<void> {
    this.status = await startStatusServer({
      host,
      port,
      registry: this.metrics.registry,
      health: () => this.health(),
    });
  }

  start(): void {
    this.runRound();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.round;
    await this.status?.close();
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (delayMs > MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.schedule(delayMs - MAX_TIMER_MS), MAX_TIMER_MS);
    } else {
      this.timer = setTimeout(() => this.runRound(), delayMs);
    }
  }

  private runRound(): void {
    this.timer = undefined;
    if (this.closed) return;
    this.round = this.oneRound().finally(() => {
      this.round = undefined;
    });
  }

  private async oneRound(): Promise<void> {
    let sent = false;
    let outcome: { ok: true; fetched: FetchedCredentials } | { ok: false; error: MeshcaError };
    try {
      const fetched = await fetchCredentials(
        {
          ...this.opts,
          ttlSeconds: this.opts.ttlSeconds ?? DEFAULT_TTL_SECONDS,
          signal: this.abort.signal,
          onRequest: () => {
            sent = true;
            this.metrics.requests.inc(CSR_REQUEST_TYPE);
            if (this.failures > 0) this.metrics.retries.inc(CSR_REQUEST_TYPE);
          },
        },
        this.now,
      );
      outcome = { ok: true, fetched };
    } catch (err) {
      if (sent) this.metrics.failures.inc(CSR_REQUEST_TYPE);
      outcome = { ok: false, error: asMeshcaError(err) };
    }
    if (this.closed) return;
    // Outside the try: a listener that throws must not be mistaken for a failed request.
    if (outcome.ok) this.issued(outcome.fetched);
    else this.failed(outcome.error);
  }

  private issued({ issued, receivedAt, rootChanged, rootReplaced }: FetchedCredentials): void {
    this.held = { serialHex: issued.serialHex, spiffeId: issued.spiffeId, notAfter: issued.notAfter };
    this.failures = 0;
    this.lastFailure = undefined;
    this.backoff.reset();
    const renewAt = renewalTime({
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      receivedAt,
      graceRatio: this.opts.graceRatio ?? 0.5,
    });
    const delay = Math.max(MIN_RENEWAL_DELAY_MS, renewAt.getTime() - this.now().getTime());
    this.log.info('workload certificate written', {
      event: 'issued',
      spiffeId: issued.spiffeId,
      serial: issued.serialHex,
      notAfter: issued.notAfter.toISOString(),
      renewAt: renewAt.toISOString(),
      dir: this.opts.outputDir,
    });
    if (rootReplaced) {
      this.log.warn("the CA's root of trust changed; wrote the new root-cert.pem", {
        event: 'root-changed',
        dir: this.opts.outputDir,
      });
    }
    this.schedule(delay);
    this.emit('issued', {
      serialHex: issued.serialHex,
      spiffeId: issued.spiffeId,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      rootChanged,
      renewAt,
    });
  }

  private failed(error: MeshcaError): void {
    this.failures += 1;
    this.lastFailure = error.message;
    const transient = isTransient(error);
    const base = this.opts.refusedRetryMs ?? DEFAULT_REFUSED_RETRY_MS;
    // ±10% so agents refused together (a CA-wide token problem) do not come back together.
    const retryInMs = transient ? this.backoff.next() : Math.round(base * (0.9 + Math.random() * 0.2));
    const fields = {
      event: 'request-failed',
      code: error.code,
      failures: this.failures,
      retryInMs,
      certificateInPlace: this.health().ok,
    };
    if (transient) {
      this.log.warn(`cannot reach the CA, retrying with backoff: ${error.message}`, fields);
    } else {
      this.log.error(`certificate request failed: ${error.message}`, fields);
    }
    this.schedule(retryInMs);
    if (this.listenerCount('error') > 0)
      this.emit('error', error, { transient, retryInMs, failures: this.failures });
  }
}

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const ratio = opts.graceRatio ?? 0.5;
  if (!(ratio > 0 && ratio < 1)) {
    throw invalidInput(
      'AGENT_BAD_GRACE_RATIO',
      `the grace period ratio ${ratio} is not between 0 and 1 (exclusive); 0.5 renews at half the lifetime`,
    );
  }
  if (opts.ttlSeconds !== undefined && !(opts.ttlSeconds > 0)) {
    throw invalidInput('AGENT_BAD_TTL', `the requested lifetime ${opts.ttlSeconds}s must be positive`);
  }
  if (opts.caRootsPem === undefined && opts.caRootsFile === undefined) {
    throw invalidInput(
      'AGENT_NO_CA_ROOTS',
      "no CA roots given; pass --ca-root FILE with the CA's root certificate",
    );
  }
  const agent = new WorkloadAgent(opts);
  await agent.adoptExisting();
  if (opts.statusPort !== null && opts.statusPort !== undefined) {
    await agent.startStatus(opts.statusHost ?? '127.0.0.1', opts.statusPort);
  }
  agent.start();
  return agent;
}
