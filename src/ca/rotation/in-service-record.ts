// What the running CA tells `meshca rotate`: the bundle in service, the rotation revision it has
// applied, and its last bundle change. Written by the CA to <data-dir>/ca-status/in-service.json
// after every load, so a command can wait for its change to take effect and `status` can show it.
import { readFile } from 'node:fs/promises';
import { PUBLIC_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import type { SigningBundle } from '../signing-bundle.js';
import { rotationPaths } from './rotation-files.js';

export interface CertificateSummary {
  subject: string;
  serial: string;
  fingerprint: string;
  notAfter: string;
}

export interface InServiceRecord {
  pid: number;
  /** In the Kubernetes home: the replica (pod) that wrote it. */
  replica?: string;
  writtenAt: string;
  /** The rotation revision the bundle in service reflects (0: none). */
  appliedRevision: number;
  phase: 'none' | 'prepared' | 'activated' | 'finished';
  ownFilesHoldNewRoots: boolean;
  signing: CertificateSummary;
  intermediates: CertificateSummary[];
  roots: CertificateSummary[];
  /** The last change of the bundle in service while this CA ran. */
  lastChange?: { at: string; kind: 'intermediate' | 'roots'; previousSerial: string; serial: string };
  /** The last reload the CA refused (e.g. a rotation plan it could not apply), if after the last success. */
  refused?: { at: string; code: string; reason: string };
}

export const summarize = (c: SigningBundle['roots'][number]): CertificateSummary => ({
  subject: c.subject,
  serial: c.serialHex,
  fingerprint: c.fingerprint256,
  notAfter: c.notAfter.toISOString(),
});

export function writeInServiceRecord(dataDir: string, record: InServiceRecord): Promise<void> {
  return writeFileAtomic(
    rotationPaths(dataDir).inService,
    `${JSON.stringify(record, null, 2)}\n`,
    PUBLIC_FILE_MODE,
  );
}

export async function readInServiceRecord(dataDir: string): Promise<InServiceRecord | undefined> {
  try {
    return JSON.parse(await readFile(rotationPaths(dataDir).inService, 'utf8')) as InServiceRecord;
  } catch {
    return undefined;
  }
}
