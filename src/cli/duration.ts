// Durations as operators write them for Istio (Go's "24h", "1h30m", "90s") plus "d" for days and a
// bare number of seconds.
import { invalidInput } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

export function parseDurationSeconds(text: string, source: string): number {
  const value = text.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw invalidInput(
      'CLI_BAD_DURATION',
      `${source}: "${text}" is not a duration; write e.g. 24h, 90m, 1h30m, 30s or 7d`,
    );
  }
  const seconds = parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit!]!, 0);
  if (seconds <= 0) throw invalidInput('CLI_BAD_DURATION', `${source}: the duration must be positive`);
  return Math.round(seconds);
}
