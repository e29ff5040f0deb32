// `meshca rotate prepare`: checks the new bundle (new root, new intermediate chaining to it), keeps
// a copy of it beside the plan, and records phase "prepared". The CA then hands out old + new roots
// and keeps signing with the old intermediate.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, invalidInput, isMeshcaError } from '../../errors.js';
import type { CertificateInfo } from '../../pki/types.js';
import { detectLayout, ISTIO_FILES, loadBundleFromDir, TLS_FILES } from '../read-bundle-files.js';
import type { SigningBundle } from '../signing-bundle.js';
import { dataDirRotationStore } from './data-dir-rotation.js';
import type { RotationStore } from './rotation-home.js';
import type { RotationState } from './rotation-state.js';

export async function prepareRotation(opts: {
  /** The data directory's store unless `store` is given. */
  dataDir?: string;
  store?: RotationStore;
  newCacerts: string;
  now?: Date;
}): Promise<{ state: RotationState; next: SigningBundle; current: CertificateInfo[] }> {
  const { newCacerts } = opts;
  const store = opts.store ?? dataDirRotationStore(opts.dataDir!);
  const now = opts.now ?? new Date();
  const previous = await store.readState();
  if (previous && previous.phase !== 'finished') {
    throw invalidInput(
      'ROTATION_IN_PROGRESS',
      `a rotation is already ${previous.phase} (since ${previous.activatedAt ?? previous.preparedAt}); run "meshca rotate status" to see it, and "meshca rotate ${previous.phase === 'prepared' ? 'activate' : 'finish'}" to go on with it, before preparing another`,
    );
  }
  if (previous?.phase === 'finished') {
    const inService = await store.inService();
    if (inService.length === 0 || inService.some((r) => !r.ownFilesHoldNewRoots))
      throw invalidInput(
        'ROTATION_IN_PROGRESS',
        `the last rotation's bundle is still served from the rotation's copy in the ${store.where}: ${store.moveInHint} before preparing another rotation`,
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
  const current = await store.currentRoots();
  const currentFps = new Set(current.map((c) => c.fingerprint256));
  const same = next.roots.filter((r) => currentFps.has(r.fingerprint256));
  if (same.length > 0) {
    throw invalidInput(
      'ROTATION_SAME_ROOT',
      `the new bundle's root "${same[0]!.subject}" (serial ${same[0]!.serialHex}) is one the CA already trusts; give a bundle with a new root. A new intermediate under the same root needs no rotation: ${store.moveInHint}`,
    );
  }
  const revision = (previous?.revision ?? 0) + 1;
  const layout = await detectLayout(newCacerts);
  const names = layout === 'tls' ? TLS_FILES : ISTIO_FILES;
  const files: Record<string, string> = {};
  for (const name of new Set([names.key, names.cert, names.chain, names.roots])) {
    const text = await readFile(join(newCacerts, name), 'utf8').catch(() => undefined);
    if (text !== undefined) files[name] = text; // e.g. a tls bundle without ca.crt, which the loader accepted
  }
  const state: RotationState = {
    phase: 'prepared',
    revision,
    preparedAt: now.toISOString(),
    oldRoots: current.map((c) => c.fingerprint256),
    newRoots: next.roots.map((r) => r.fingerprint256),
    bundleDir: `new-cacerts-${revision}`,
  };
  await store.writeState(state, { files, keyFile: names.key });
  return { state, next, current };
}
