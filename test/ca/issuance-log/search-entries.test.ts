// The dashboard's reader of the issuance log: newest first across segments (read backwards in
// chunks), by serial or SPIFFE ID, bounded in results and in bytes read, and blind to a line still
// being written.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IssuedFields } from '../../../src/ca/issuance-log/entry.js';
import { openIssuanceLog } from '../../../src/ca/issuance-log/issuance-log.js';
import { searchEntries } from '../../../src/ca/issuance-log/search-entries.js';
import { listSegments } from '../../../src/ca/issuance-log/segments.js';
import { silentLogger } from '../../../src/log.js';
import { issuedFields } from './issued-fields.js';

// Five service accounts in three namespaces: a SPIFFE ID recurs every 15 entries.
const fields = (i: number): Omit<IssuedFields, 'time'> => ({
  ...issuedFields(i),
  spiffeId: `spiffe://cluster.local/ns/ns${i % 3}/sa/sa${i % 5}`,
});

let dir: string;
const COUNT = 1500;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshca-search-log-'));
  // Small segments: the search crosses many of them, and the 256 KiB chunks cross lines.
  const log = await openIssuanceLog({ dir, log: silentLogger, segmentBytes: 100_000 });
  for (let i = 0; i < COUNT; i++) await log.append(fields(i));
  await log.close();
});
after(() => rm(dir, { recursive: true, force: true }));

describe('searchEntries', () => {
  test('the newest entries first, across segments', async () => {
    assert.ok((await listSegments(dir)).length > 5);
    const { entries, stoppedEarly } = await searchEntries([dir], { limit: 20, maxBytes: 1 << 30 });
    assert.equal(stoppedEarly, false);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: 20 }, (_, i) => COUNT - 1 - i),
    );
  });

  test('by serial and by SPIFFE ID, to the oldest entry', async () => {
    const one = await searchEntries([dir], {
      serial: (0x1000 + 3).toString(16),
      limit: 50,
      maxBytes: 1 << 30,
    });
    assert.deepEqual(
      one.entries.map((e) => e.seq),
      [3],
    );
    const id = 'spiffe://cluster.local/ns/ns0/sa/sa0';
    const all = await searchEntries([dir], { spiffeId: id, limit: 10_000, maxBytes: 1 << 30 });
    assert.equal(all.entries.length, COUNT / 15);
    assert.ok(all.entries.every((e) => e.kind === 'workload' && e.spiffeId === id));
    const some = await searchEntries([dir], { spiffeId: id, limit: 7, maxBytes: 1 << 30 });
    assert.equal(some.entries.length, 7);
  });

  test('stops after maxBytes and says so', async () => {
    const r = await searchEntries([dir], { serial: 'ffffff', limit: 50, maxBytes: 50_000 });
    assert.deepEqual(r.entries, []);
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.bytesRead, 50_000);
  });

  test('a last line still being written is not read', async () => {
    const last = (await listSegments(dir)).at(-1)!;
    await appendFile(last.path, '{"kind":"workload","serial":"half');
    const { entries } = await searchEntries([dir], { limit: 1, maxBytes: 1 << 30 });
    assert.equal(entries[0]!.seq, COUNT - 1);
  });
});
