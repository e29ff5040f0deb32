// The agent's timing rules as pure functions: exponential backoff with jitter, capped, reset after a
// success; renewal at the grace ratio of the lifetime counted from receipt, not the backdated notBefore.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBackoff, renewalTime } from '../../src/agent/backoff.js';

describe('createBackoff', () => {
  test('doubles from 100 ms to a 60 s cap; jitter keeps each delay within [step/2, step]', () => {
    const low = createBackoff({ random: () => 0 });
    const high = createBackoff({ random: () => 1 });
    const lows = Array.from({ length: 12 }, () => low.next());
    const highs = Array.from({ length: 12 }, () => high.next());
    assert.deepEqual(highs, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
    assert.deepEqual(
      lows,
      highs.map((h) => h / 2),
    );
    low.reset();
    assert.equal(low.next(), 50, 'a success starts over');
  });

  test('never overflows however long the CA stays away', () => {
    const backoff = createBackoff({ random: () => 1 });
    for (let i = 0; i < 10_000; i++) backoff.next();
    assert.equal(backoff.next(), 60_000);
  });
});

describe('renewalTime', () => {
  const receivedAt = new Date('2030-01-01T00:00:00Z');
  const at = (seconds: number) => new Date(receivedAt.getTime() + seconds * 1000);

  test('half-way through a 20 s certificate, though notBefore is backdated 2 minutes', () => {
    const when = renewalTime({
      notBefore: at(-120),
      notAfter: at(20),
      receivedAt,
      graceRatio: 0.5,
      random: () => 0.5,
    });
    assert.deepEqual(when, at(10));
  });

  test('jitter moves it by at most 1% of the lifetime either way', () => {
    const opts = { notBefore: at(-120), notAfter: at(10_000), receivedAt, graceRatio: 0.5 };
    assert.deepEqual(renewalTime({ ...opts, random: () => 0 }), at(5100));
    assert.deepEqual(renewalTime({ ...opts, random: () => 1 }), at(4900));
  });

  test("Istio's ratio is the part of the lifetime left when renewing: 0.2 renews at 80%", () => {
    const when = renewalTime({
      notBefore: receivedAt,
      notAfter: at(1000),
      receivedAt,
      graceRatio: 0.2,
      random: () => 0.5,
    });
    assert.deepEqual(when, at(800));
  });

  test('counts from notBefore when that is later than receipt (a clock behind the CA)', () => {
    const when = renewalTime({
      notBefore: at(100),
      notAfter: at(1100),
      receivedAt,
      graceRatio: 0.5,
      random: () => 0.5,
    });
    assert.deepEqual(when, at(600));
  });
});
