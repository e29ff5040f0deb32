// `meshca rotate prepare`: checks the new bundle (new root, new intermediate chaining to it), keeps
// a copy of it beside the plan, and records phase "prepared". The CA then hands out old + new roots
// and keeps signing with the old intermediate.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, invalidInput, isMeshcaError } from '../../errors.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import type { CertificateInfo } from '../../pki/types.js';
import { detectLayout, ISTIO_FILES, loadBundleFromDir, TLS_FILES } from '../read-bundle-files.js';
import type { SigningBundle } from '../signing-bundle.js';
import { readInServiceRecord } from './in-service-record.js';
import { rotationPaths } from './rotation-files.js';
import { type RotationState, readRotationState, writeRotationState } from './rotation-state.js';

/** The trust bundle the running CA publishes in its data directory (server/publish-trust-bundle.ts). */
const PUBLISHED_ROOTS = 'root-cert.pem';

/** The roots the CA on `dataDir` hands out now, from the copy it publishes. */
export async function currentRoots(dataDir: string): Promise<CertificateInfo[]> {
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

export async function prepareRotation(opts: {
  dataDir: string;
  newCacerts: string;
  now?: Date;
}): Promise<{ state: RotationState; next: SigningBundle; current: CertificateInfo[] }> {
  const { dataDir, newCacerts } = opts;
  const now = opts.now ?? new Date();
  const previous = await readRotationState(dataDir);
  if (previous && previous.phase !== 'finished') {
    throw invalidInput(
      'ROTATION_IN_PROGRESS',
      `a rotation is already ${previous.phase} (since ${previous.activatedAt ?? previous.preparedAt}); run "meshca rotate status" to see it, and "meshca rotate ${previous.phase === 'prepared' ? 'activate' : 'finish'}" to go on with it, before preparing another`,
    );
  }
  if (previous?.phase === 'finished' && !(await readInServiceRecord(dataDir))?.ownFilesHoldNewRoots) {
    throw invalidInput(
      'ROTATION_IN_PROGRESS',
      `the last rotation's bundle is still served from ${join(rotationPaths(dataDir).dir, previous.bundleDir)}: copy it into the CA's --cacerts directory (the CA reloads it) before preparing another rotation`,
    );
  }
  let next: SigningBundle;
  try {
    next = await loadBundleFromDir(newCacerts, { now });
  } catch (err) {
    if (!isMeshcaError(err)) throw err;
    throw configError(
      'ROTATION_BUNDLE_INVALID',
      `the new bundle in ${newCacerts} cannot be used: ${err.message}. Make it with "meshca certs root-ca" and "meshca certs intermediate" from the new root`,
      err,
    );
  }
  const current = await currentRoots(dataDir);
  const currentFps = new Set(current.map((c) => c.fingerprint256));
  const same = next.roots.filter((r) => currentFps.has(r.fingerprint256));
  if (same.length > 0) {
    throw invalidInput(
      'ROTATION_SAME_ROOT',
      `the new bundle's root "${same[0]!.subject}" (serial ${same[0]!.serialHex}) is one the CA already trusts; give a bundle with a new root. A new intermediate under the same root needs no rotation: copy it into the CA's --cacerts directory and the CA reloads it`,
    );
  }
  const revision = (previous?.revision ?? 0) + 1;
  const bundleDir = `new-cacerts-${revision}`;
  const layout = await detectLayout(newCacerts);
  const files = layout === 'tls' ? TLS_FILES : ISTIO_FILES;
  // The key first, so that the folder is made private (0700) before anything lands in it.
  const names = [files.key, ...new Set([files.cert, files.chain, files.roots])];
  for (const name of names) {
    const text = await readFile(join(newCacerts, name), 'utf8').catch(() => undefined);
    if (text === undefined) continue; // e.g. a tls bundle without ca.crt, which the loader accepted
    await writeFileAtomic(
      join(rotationPaths(dataDir).dir, bundleDir, name),
      text,
      name === files.key ? PRIVATE_FILE_MODE : PUBLIC_FILE_MODE,
    );
  }
  const state: RotationState = {
    phase: 'prepared',
    revision,
    preparedAt: now.toISOString(),
    oldRoots: current.map((c) => c.fingerprint256),
    newRoots: next.roots.map((r) => r.fingerprint256),
    bundleDir,
  };
  await writeRotationState(dataDir, state);
  return { state, next, current };
}
