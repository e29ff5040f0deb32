// The dashboard's per-minute counts: an hour of one-minute buckets per signer, old minutes dropping
// out as the clock moves, and a fixed number of signers however many names arrive.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ACTIVITY_MINUTES,
  createIssuanceActivity,
  MAX_TRACKED_SIGNERS,
  OTHER_SIGNERS,
} from '../../src/server/issuance-activity.js';

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1) + minute * 60_000 + 1_000);

describe('issuance activity', () => {
  test('counts per minute, oldest first; an hour later a minute is gone', () => {
    const a = createIssuanceActivity();
    a.record('s', 'issued', at(0));
    a.record('s', 'issued', at(0));
    a.record('s', 'error', at(1));
    const [s] = a.snapshot(at(1));
    assert.equal(s!.issued.length, ACTIVITY_MINUTES);
    assert.deepEqual(s!.issued.slice(-2), [2, 0]);
    assert.deepEqual(s!.errors.slice(-2), [0, 1]);
    const later = a.snapshot(at(ACTIVITY_MINUTES))[0]!;
    assert.deepEqual([later.issued.reduce((x, y) => x + y), later.errors.reduce((x, y) => x + y)], [0, 1]);
    // The slot of minute 0 is reused for minute 60: counts start again from zero.
    a.record('s', 'issued', at(ACTIVITY_MINUTES));
    assert.equal(a.snapshot(at(ACTIVITY_MINUTES))[0]!.issued.at(-1), 1);
  });

  test('signers beyond the cap are counted together', () => {
    const a = createIssuanceActivity();
    for (let i = 0; i < MAX_TRACKED_SIGNERS * 3; i++) a.record(`signer-${i}`, 'issued', at(0));
    const snap = a.snapshot(at(0));
    assert.equal(snap.length, MAX_TRACKED_SIGNERS);
    const other = snap.find((s) => s.signer === OTHER_SIGNERS)!;
    assert.equal(other.issued.at(-1), MAX_TRACKED_SIGNERS * 3 - (MAX_TRACKED_SIGNERS - 1));
  });
});
