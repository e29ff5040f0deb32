// A staged root change in the data-directory home: the plan in <data-dir>/rotation/ (written by the
// commands, watched by the CA), what the CA reports in <data-dir>/ca-status/. One writer per folder,
// so neither ever overwrites the other's file.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError } from '../../errors.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { makeDirectories } from '../../lib/make-directories.js';
import { watchDirectory } from '../../lib/watch-directory.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import type { CertificateInfo } from '../../pki/types.js';
import { readInServiceRecord, writeInServiceRecord } from './in-service-record.js';
import { createFileIssuanceRecorder, readIssuanceRecords } from './issuance-record-files.js';
import { mergeIssuanceRecords } from './issuance-records.js';
import { rotationPaths } from './rotation-files.js';
import type { RotationInServiceHome, RotationStore } from './rotation-home.js';
import { createRotationOverlay } from './rotation-overlay.js';
import { readRotationState, writeRotationState } from './rotation-state.js';

/** The trust bundle the running CA publishes in its data directory (server/publish-trust-bundle.ts). */
const PUBLISHED_ROOTS = 'root-cert.pem';

/** The roots the CA on `dataDir` hands out now, from the copy it publishes. */
async function currentRoots(dataDir: string): Promise<CertificateInfo[]> {
  const path = join(dataDir, PUBLISHED_ROOTS);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw configError(
      'ROTATION_NO_CA',
      `${path} does not exist, so there is no CA on ${dataDir} to rotate; start "meshca serve --data-dir ${dataDir}" once first`,
    );
  }
  return parseCertificates(text, path);
}

export function dataDirRotationStore(dataDir: string): RotationStore {
  return {
    where: `data directory ${dataDir}`,
    readState: () => readRotationState(dataDir),
    async writeState(state, newBundle) {
      if (newBundle) {
        // The key first, so that the folder is made private (0700) before anything lands in it.
        const names = Object.keys(newBundle.files).sort((x, y) =>
          x === newBundle.keyFile ? -1 : y === newBundle.keyFile ? 1 : 0,
        );
        for (const name of names)
          await writeFileAtomic(
            join(rotationPaths(dataDir).dir, state.bundleDir, name),
            newBundle.files[name]!,
            name === newBundle.keyFile ? PRIVATE_FILE_MODE : PUBLIC_FILE_MODE,
          );
      }
      await writeRotationState(dataDir, state);
    },
    readRecords: () => readIssuanceRecords(dataDir),
    currentRoots: () => currentRoots(dataDir),
    inService: async () => {
      const record = await readInServiceRecord(dataDir);
      return record ? [record] : [];
    },
    moveInHint: "copy it into the CA's --cacerts directory (the CA reloads it)",
  };
}

export async function dataDirRotationInService(
  dataDir: string,
  opts: { writer?: string; debounceMs?: number; onRecordsWriteFailed: (err: Error) => void },
): Promise<RotationInServiceHome> {
  const paths = rotationPaths(dataDir);
  const recorder = await createFileIssuanceRecorder(dataDir, {
    writer: opts.writer,
    onWriteFailed: opts.onRecordsWriteFailed,
  });
  return {
    rotation: createRotationOverlay(dataDir),
    recorder,
    // What is on disk, and this process's own records, which may not be written yet.
    readRecords: async () => mergeIssuanceRecords([await readIssuanceRecords(dataDir), recorder.current()]),
    async watchPlan(changed) {
      // Made only once the CA is up, so that a start that fails leaves nothing behind.
      await makeDirectories(paths.dir);
      return watchDirectory(paths.dir, changed, { debounceMs: opts.debounceMs ?? 100 });
    },
    writeInService: (record) => writeInServiceRecord(dataDir, record),
    close: () => recorder.close(),
  };
}
