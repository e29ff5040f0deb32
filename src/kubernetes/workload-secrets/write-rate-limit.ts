// A cap on the rate of writes to the API server: each write waits its turn, one every 1/rate
// seconds, so re-issuing every workload Secret after a CA change cannot flood the API server.
export interface WriteRateLimit {
  /** Resolves true when the caller may write, false once the limit is closed (stop writing). */
  take(): Promise<boolean>;
  close(): void;
}

export function writeRateLimit(perSecond: number): WriteRateLimit {
  const intervalMs = 1000 / perSecond;
  let nextAt = 0;
  let closed = false;
  const waiting = new Set<{ timer: NodeJS.Timeout; resolve(ok: boolean): void }>();
  return {
    take() {
      if (closed) return Promise.resolve(false);
      const now = Date.now();
      const at = Math.max(now, nextAt);
      nextAt = at + intervalMs;
      if (at <= now) return Promise.resolve(true);
      return new Promise((resolve) => {
        const entry = {
          resolve,
          timer: setTimeout(() => {
            waiting.delete(entry);
            resolve(true);
          }, at - now),
        };
        waiting.add(entry);
      });
    },
    close() {
      closed = true;
      for (const entry of waiting) {
        clearTimeout(entry.timer);
        entry.resolve(false);
      }
      waiting.clear();
    },
  };
}
