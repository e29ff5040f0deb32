// Reloading the mesh configuration when its files change (editors' rename-on-save, Kubernetes'
// `..data` swap) or on demand (SIGHUP); a bad change is reported and the caller keeps its last good one.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { internalError, isMeshcaError, type MeshcaError } from '../errors.js';
import { watchDirectory } from '../lib/watch-directory.js';
import { type LoadMeshConfigOptions, loadMeshConfig } from './load-mesh-config.js';
import type { MeshConfigResult } from './types.js';

export interface WatchMeshConfigOptions extends LoadMeshConfigOptions {
  /** Quiet time after the last file event before reloading; 200 ms by default. */
  debounceMs?: number;
  /**
   * The result the caller started with (from loadMeshConfig): a reload that gives the same is not
   * reported. Without it, the first successful reload is reported even when nothing changed.
   */
  current?: MeshConfigResult;
  /** A new, valid configuration. Must not throw. */
  onChange(result: MeshConfigResult): void;
  /** A reload failed; the caller keeps the configuration it has. Must not throw. */
  onError(err: MeshcaError): void;
}

export interface MeshConfigWatch {
  close(): void;
  /** Reloads now and always reports the outcome (onChange or onError); resolves when done. */
  reload(): Promise<void>;
}

/** A comparable form of a result (Maps are not JSON), to tell a real change from a touched file. */
function fingerprint(result: MeshConfigResult): string {
  return JSON.stringify(result, (_key, value: unknown) => (value instanceof Map ? [...value] : value));
}

function watchedDirectory(path: string): string {
  try {
    if (statSync(path).isDirectory()) return path;
  } catch {
    // not there yet: its folder is where it will appear
  }
  // The folder, not the file: a rename-on-save or a symlink swap replaces the file's inode.
  return dirname(path);
}

export function watchMeshConfig(path: string, opts: WatchMeshConfigOptions): MeshConfigWatch {
  let closed = false;
  let lastGood = opts.current ? fingerprint(opts.current) : undefined;
  let lastError: string | undefined;
  let queue: Promise<void> = Promise.resolve();
  let queuedFromEvents = false;

  const runOnce = async (forced: boolean): Promise<void> => {
    let result: MeshConfigResult;
    try {
      result = await loadMeshConfig(path, opts);
    } catch (err) {
      if (closed) return;
      const error = isMeshcaError(err)
        ? err
        : internalError(
            'MESH_CONFIG_RELOAD_FAILED',
            `reloading the mesh configuration ${path} failed: ${String(err)}`,
            err,
          );
      // Repeated events over one broken file would repeat one message; say it once per breakage.
      if (forced || error.message !== lastError) opts.onError(error);
      lastError = error.message;
      return;
    }
    if (closed) return;
    const print = fingerprint(result);
    // After an error the same config is reported again: the operator's fix took effect.
    if (!forced && lastError === undefined && print === lastGood) return;
    lastError = undefined;
    lastGood = print;
    opts.onChange(result);
  };

  const schedule = (forced: boolean): Promise<void> => {
    if (!forced && queuedFromEvents) return queue;
    if (!forced) queuedFromEvents = true;
    const next = queue.then(() => {
      if (!forced) queuedFromEvents = false;
      return closed ? undefined : runOnce(forced);
    });
    queue = next.catch(() => undefined); // a throwing callback must not stop later reloads
    return next;
  };

  const watch = watchDirectory(
    watchedDirectory(path),
    () => {
      schedule(false).catch(() => undefined);
    },
    { debounceMs: opts.debounceMs ?? 200 },
  );

  return {
    close() {
      closed = true;
      watch.close();
    },
    reload() {
      return schedule(true);
    },
  };
}
