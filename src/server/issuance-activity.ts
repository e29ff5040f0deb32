// Issued and refused requests per signer over the last hour, minute by minute, for the dashboard.
// A ring of one-minute buckets per signer: memory stays fixed however busy the CA is, and signer
// names come from configuration (as the metrics' labels do), with a cap besides.
import type { SignerActivity } from '../http/dashboard/dashboard-model.js';

export const ACTIVITY_MINUTES = 60;
/** Signers tracked at most; requests of any further ones are counted under OTHER_SIGNERS. */
export const MAX_TRACKED_SIGNERS = 32;
export const OTHER_SIGNERS = '(other signers)';
/** Refusals of requests that named no signer (the mesh default, or meshca's own in CA mode). */
export const DEFAULT_SIGNER_ACTIVITY = '(default signer)';
/** Refusals before any signer was chosen: the caller could not be authenticated. */
export const UNAUTHENTICATED_ACTIVITY = '(not authenticated)';
const MINUTE_MS = 60_000;

interface Ring {
  issued: number[];
  errors: number[];
  /** The minute (ms since the epoch / 60 000) each slot holds. */
  minute: number[];
}

export interface IssuanceActivity {
  record(signer: string, outcome: 'issued' | 'error', now?: Date): void;
  /** Per signer, oldest minute first, the current minute last. */
  snapshot(now?: Date): SignerActivity[];
}

export function createIssuanceActivity(): IssuanceActivity {
  const rings = new Map<string, Ring>();
  const ringOf = (signer: string): Ring => {
    const name = rings.has(signer) || rings.size < MAX_TRACKED_SIGNERS - 1 ? signer : OTHER_SIGNERS;
    let ring = rings.get(name);
    if (!ring) {
      ring = {
        issued: new Array(ACTIVITY_MINUTES).fill(0),
        errors: new Array(ACTIVITY_MINUTES).fill(0),
        minute: new Array(ACTIVITY_MINUTES).fill(-1),
      };
      rings.set(name, ring);
    }
    return ring;
  };
  return {
    record(signer, outcome, now = new Date()) {
      const minute = Math.floor(now.getTime() / MINUTE_MS);
      const ring = ringOf(signer);
      const slot = minute % ACTIVITY_MINUTES;
      if (ring.minute[slot] !== minute) {
        ring.minute[slot] = minute;
        ring.issued[slot] = 0;
        ring.errors[slot] = 0;
      }
      if (outcome === 'issued') ring.issued[slot]!++;
      else ring.errors[slot]!++;
    },
    snapshot(now = new Date()) {
      const current = Math.floor(now.getTime() / MINUTE_MS);
      return [...rings]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([signer, ring]) => {
          const issued: number[] = [];
          const errors: number[] = [];
          for (let m = current - ACTIVITY_MINUTES + 1; m <= current; m++) {
            const slot = m % ACTIVITY_MINUTES;
            const live = ring.minute[slot] === m;
            issued.push(live ? ring.issued[slot]! : 0);
            errors.push(live ? ring.errors[slot]! : 0);
          }
          return { signer, issued, errors };
        });
    },
  };
}
