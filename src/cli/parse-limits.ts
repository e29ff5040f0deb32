// `--limit NAME=VALUE` (repeatable) and MESHCA_LIMITS ("NAME=VALUE,NAME=VALUE"): the operator's
// changes to the connection limits of `meshca serve` (see server/connection-limits.ts).
import type { ConnectionLimits } from '../server/connection-limits.js';
import { parseDurationSeconds } from './duration.js';

/** Each limit's name on the command line, and whether it is a duration or a count. */
export const LIMIT_NAMES: Record<string, { key: keyof ConnectionLimits; kind: 'duration' | 'count' }> = {
  'handshake-timeout': { key: 'handshakeTimeoutMs', kind: 'duration' },
  'keepalive-time': { key: 'keepaliveTimeMs', kind: 'duration' },
  'keepalive-timeout': { key: 'keepaliveTimeoutMs', kind: 'duration' },
  'max-connection-idle': { key: 'maxConnectionIdleMs', kind: 'duration' },
  'max-connection-age': { key: 'maxConnectionAgeMs', kind: 'duration' },
  'max-connection-age-grace': { key: 'maxConnectionAgeGraceMs', kind: 'duration' },
  'max-concurrent-streams': { key: 'maxConcurrentStreams', kind: 'count' },
  'max-session-memory-mb': { key: 'maxSessionMemoryMb', kind: 'count' },
  'max-header-list-bytes': { key: 'maxHeaderListBytes', kind: 'count' },
  'request-receive-timeout': { key: 'requestReceiveTimeoutMs', kind: 'duration' },
  'shutdown-grace': { key: 'shutdownGraceMs', kind: 'duration' },
};

/** Parses `NAME=VALUE` items; each problem goes to `problem` and the item is skipped. */
export function parseLimits(
  items: readonly string[],
  source: string,
  problem: (message: string) => void,
): Partial<ConnectionLimits> {
  const limits: Partial<ConnectionLimits> = {};
  for (const item of items) {
    const [name = '', value, ...extra] = item.split('=').map((p) => p.trim());
    const spec = LIMIT_NAMES[name];
    if (!spec || value === undefined || value === '' || extra.length > 0) {
      problem(
        `${source} ${item}: write NAME=VALUE with NAME one of ${Object.keys(LIMIT_NAMES).join(', ')} (e.g. keepalive-time=30s)`,
      );
      continue;
    }
    if (spec.kind === 'count') {
      if (!/^\d+$/.test(value) || Number(value) < 1) {
        problem(`${source} ${name}=${value}: give a whole number of at least 1`);
        continue;
      }
      limits[spec.key] = Number(value);
    } else {
      try {
        limits[spec.key] = parseDurationSeconds(value, `${source} ${name}`) * 1000;
      } catch (err) {
        problem((err as Error).message);
      }
    }
  }
  return limits;
}
