// The issuance records in the data-directory home: <data-dir>/ca-status/issuances.json for a single
// CA process, issuances-<writer>.json for each --workers worker (its slot, so a restarted worker
// carries on its predecessor's copy). Readers merge them all.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PUBLIC_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import {
  createIssuanceRecorder,
  type IssuanceRecorder,
  type IssuanceRecords,
  mergeIssuanceRecords,
  parseIssuanceRecords,
} from './issuance-records.js';
import { rotationPaths } from './rotation-files.js';

const COPY = /^issuances(-[a-z0-9][a-z0-9-]{0,62})?\.json$/;

const copyPath = (dataDir: string, writer: string | undefined) =>
  writer === undefined
    ? rotationPaths(dataDir).issuances
    : join(rotationPaths(dataDir).statusDir, `issuances-${writer}.json`);

const readText = (path: string) => readFile(path, 'utf8').catch(() => undefined);

/** Every writer's records in `dataDir`, merged. */
export async function readIssuanceRecords(dataDir: string): Promise<IssuanceRecords> {
  const dir = rotationPaths(dataDir).statusDir;
  const names = await readdir(dir).catch(() => [] as string[]);
  const copies = await Promise.all(
    names.filter((n) => COPY.test(n)).map(async (n) => parseIssuanceRecords(await readText(join(dir, n)))),
  );
  return mergeIssuanceRecords(copies);
}

/** The recorder of one writer: `writer` (e.g. worker-2, made by the code, never by a client) names a
 * --workers worker; undefined for a lone CA process. */
export async function createFileIssuanceRecorder(
  dataDir: string,
  opts: { writer?: string; flushDelayMs?: number; onWriteFailed?: (err: Error) => void } = {},
): Promise<IssuanceRecorder> {
  const path = copyPath(dataDir, opts.writer);
  return createIssuanceRecorder({
    initial: parseIssuanceRecords(await readText(path)),
    write: (text) => writeFileAtomic(path, text, PUBLIC_FILE_MODE),
    flushDelayMs: opts.flushDelayMs,
    onWriteFailed: opts.onWriteFailed,
  });
}
