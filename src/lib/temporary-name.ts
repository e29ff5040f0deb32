// The names of meshca's temporary files and directories, `.<name>.<pid>-<random>.tmp`: the pid lets
// a later start tell the leftover of a crashed writer from a write another process has in flight.
import { randomBytes } from 'node:crypto';

/** A temp entry older than this is no write in flight, whoever made it. */
export const LEFTOVER_AGE_MS = 10 * 60 * 1000;

// This process's writes in progress. A pid is no proof on its own: a restarted container's meshca
// often has the pid its crashed predecessor had (1).
const inFlight = new Set<string>();

/** A fresh temporary name for writing `base` in the same directory; release it once done. */
export function temporaryName(base: string): string {
  const name = `.${base}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  inFlight.add(name);
  return name;
}

/** The write that used `name` is over (renamed or removed). */
export function releaseTemporaryName(name: string): void {
  inFlight.delete(name);
}

/** Whether this process has a write in progress under `name`. */
export function isOwnTemporaryName(name: string): boolean {
  return inFlight.has(name);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether `name` is a temporary name for `base`, and the pid that made it. Earlier versions wrote
 * `.<name>.<random>.tmp` and `.ca-<random>.tmp`, without a pid: those match with `pid` undefined.
 */
export function parseTemporaryName(name: string, base: string): { pid: number | undefined } | undefined {
  const m = new RegExp(`^\\.${escapeRegExp(base)}[.-](?:(\\d{1,10})-)?[0-9a-f]{12}\\.tmp$`).exec(name);
  if (!m) return undefined;
  return { pid: m[1] === undefined ? undefined : Number(m[1]) };
}
