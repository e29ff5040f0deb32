// Keeps the workload's current credentials in memory and tells listeners when the agent replaces
// them, so the sidecar can serve new certificates without a restart.
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMeshcaError, MeshcaError } from '../errors.js';
import {
  loadWorkloadCredentials,
  WORKLOAD_FILES,
  type WorkloadCredentials,
} from './load-workload-credentials.js';

export type { WorkloadCredentials } from './load-workload-credentials.js';

/** What the sidecar needs from a credential source; a watcher is one, a test may pass a fixed one. */
export interface CredentialsSource {
  /** The last consistent set, or undefined before the files first appear. */
  current(): WorkloadCredentials | undefined;
  /** Resolves with the first consistent set. */
  whenReady(): Promise<WorkloadCredentials>;
  /** Called with each new consistent set that differs from the previous one; returns an unsubscribe. */
  onChange(listener: (credentials: WorkloadCredentials) => void): () => void;
}

export interface WorkloadCredentialsWatcher extends CredentialsSource {
  readonly dir: string;
  close(): void;
}

export interface WatchWorkloadCredentialsOptions {
  dir: string;
  /** The stat fallback for file systems where fs.watch misses renames. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Quiet time after the last file event before reading; the agent renames three files. Default 50 ms. */
  debounceMs?: number;
  /** Keep the process alive while watching, as fs.watch does by default; close() releases it. Default true. */
  persistent?: boolean;
  log?: (event: object) => void;
}

const DEFAULT_POLL_MS = 1000;
const DEFAULT_DEBOUNCE_MS = 50;

function sameCredentials(a: WorkloadCredentials, b: WorkloadCredentials): boolean {
  return a.certChainPem === b.certChainPem && a.keyPem === b.keyPem && a.rootsPem === b.rootsPem;
}

/**
 * Watches `dir` for `cert-chain.pem`, `key.pem` and `root-cert.pem`. A set whose key does not match
 * its chain (read between two of the agent's renames) is skipped; the next rename triggers a reread.
 */
export function watchWorkloadCredentials(opts: WatchWorkloadCredentialsOptions): WorkloadCredentialsWatcher {
  const { dir } = opts;
  const log = opts.log ?? (() => {});
  const listeners = new Set<(credentials: WorkloadCredentials) => void>();
  let current: WorkloadCredentials | undefined;
  let closed = false;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let loading = false;
  let again = false;
  // The inode/size/mtime of the three files at the last read: a poll that finds them unchanged
  // costs three stat calls and no parsing.
  let lastSignature: string | undefined;

  let resolveReady!: (credentials: WorkloadCredentials) => void;
  let rejectReady!: (err: unknown) => void;
  const ready = new Promise<WorkloadCredentials>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // A watcher closed before its files appeared rejects; nobody may be waiting, so mark it handled.
  ready.catch(() => {});

  async function signature(): Promise<string> {
    const parts = await Promise.all(
      WORKLOAD_FILES.map(async (name) => {
        try {
          const s = await stat(join(dir, name), { bigint: true });
          return `${s.ino}:${s.size}:${s.mtimeNs}`;
        } catch {
          return '-';
        }
      }),
    );
    return parts.join('|');
  }

  async function reload(): Promise<void> {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      do {
        again = false;
        await reloadOnce();
      } while (again && !closed);
    } finally {
      loading = false;
    }
  }

  async function reloadOnce(): Promise<void> {
    // Taken before reading, so a rename racing the read changes the signature and forces a reread.
    const sig = await signature();
    if (closed || sig === lastSignature) return;
    lastSignature = sig;
    let next: WorkloadCredentials;
    try {
      next = await loadWorkloadCredentials(dir);
    } catch (err) {
      if (closed) return;
      const code = isMeshcaError(err) ? err.code : 'PROXY_CREDENTIALS_UNREADABLE';
      // Missing files before the agent's first write are the normal start, not worth a warning.
      if (code !== 'PROXY_CREDENTIALS_MISSING' || current) {
        log({ event: 'credentials_rejected', dir, code, message: (err as Error).message });
      }
      return;
    }
    if (closed || (current && sameCredentials(current, next))) return;
    const previous = current;
    current = next;
    log({
      event: previous ? 'credentials_rotated' : 'credentials_loaded',
      dir,
      spiffeId: next.spiffeId,
      serial: next.serialHex,
      notAfter: next.notAfter.toISOString(),
    });
    resolveReady(next);
    for (const listener of [...listeners]) {
      try {
        listener(next);
      } catch (err) {
        log({ event: 'credentials_listener_failed', dir, message: (err as Error).message });
      }
    }
  }

  function schedule(): void {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  function startWatching(): void {
    if (watcher || closed) return;
    try {
      watcher = watch(dir, { persistent: false }, schedule);
      watcher.on('error', () => {
        // The directory was removed or replaced: drop the watch, the poll re-establishes it.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // the directory does not exist yet; retried on each poll
    }
  }

  startWatching();
  const poll = setInterval(() => {
    startWatching();
    void reload();
  }, opts.pollIntervalMs ?? DEFAULT_POLL_MS);
  if (opts.persistent === false) poll.unref();
  void reload();

  return {
    dir,
    current: () => current,
    whenReady: () => ready,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
      listeners.clear();
      rejectReady(
        new MeshcaError(
          'PROXY_CREDENTIALS_WATCH_CLOSED',
          'unavailable',
          `stopped watching ${dir} before ${WORKLOAD_FILES.join(', ')} appeared there`,
        ),
      );
    },
  };
}
