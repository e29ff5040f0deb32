// Small statistics for benchmark windows: percentiles of one window's latencies, and the
// median / min–max summary of a figure across windows.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Every window's value, in the order measured. */
  windows: number[];
}

/** Nearest-rank percentile (p in 0..100) of values already sorted ascending. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter(Number.isFinite);
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    windows: [...values],
  };
}

/** A summary of every numeric field across windows: [{a:1},{a:3}] → {a: summarize([1,3])}. */
export function summarizeNumbers(windows: readonly object[]): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  const keys = new Set(windows.flatMap((w) => Object.keys(w)));
  for (const key of keys) {
    const values = windows.map((w) => (w as Record<string, unknown>)[key]);
    if (values.every((v) => typeof v === 'number')) out[key] = summarize(values as number[]);
  }
  return out;
}
