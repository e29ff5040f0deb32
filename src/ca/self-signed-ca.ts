// The embedded default CA (Istio's istio-ca-secret): a self-signed root made once in
// <data-dir>/ca and reused on every restart. Several processes starting at once agree on one root.
import { readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../lib/atomic-file.js';
import { diskFullError } from '../lib/disk-full.js';
import { makePrivateDirectory } from '../lib/make-private-directory.js';
import { releaseTemporaryName, temporaryName } from '../lib/temporary-name.js';
import { createRootCertificate } from '../pki/create-root-certificate.js';
import { encodePrivateKeyPem, generateKey } from '../pki/keys.js';
import type { KeyType } from '../pki/types.js';
import { ISTIO_FILES, loadBundleFromDir } from './read-bundle-files.js';
import { removeInterruptedWrites } from './remove-interrupted-writes.js';
import type { SigningBundle } from './signing-bundle.js';

export interface SelfSignedCaOptions {
  /** `<data-dir>/ca` */
  dir: string;
  /** Becomes the root's organization, as in Istio (`O=cluster.local`). */
  trustDomain: string;
  keyType: KeyType;
  /** Root lifetime; Istio's default is 10 years. */
  days?: number;
  now?: Date;
}

async function hasBundle(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).includes(ISTIO_FILES.cert);
  } catch {
    return false;
  }
}

/**
 * Removes what an interrupted creation or write left: temp directories beside `dir` (which may hold
 * a key) and temp files inside it. Returns the paths removed.
 */
export async function removeSelfSignedCaLeftovers(dir: string): Promise<string[]> {
  return [
    ...(await removeInterruptedWrites(dirname(dir), { dirs: [basename(dir)] })),
    ...(await removeInterruptedWrites(dir, { files: Object.values(ISTIO_FILES) })),
  ];
}

/**
 * Loads the self-signed CA in `dir`, creating it first when absent. Creation happens in a private
 * temp directory renamed into place: rename() of a directory fails when the target already exists
 * with content, so of two racing processes exactly one wins and the other loads the winner's root.
 * Leftovers of an earlier, interrupted run are removed first (`removed`).
 */
export async function loadOrCreateSelfSignedCa(
  opts: SelfSignedCaOptions,
): Promise<{ bundle: SigningBundle; created: boolean; removed: string[] }> {
  let created = false;
  const removed = await removeSelfSignedCaLeftovers(opts.dir);
  if (!(await hasBundle(opts.dir))) {
    const parent = dirname(opts.dir);
    const tempName = temporaryName(basename(opts.dir));
    const temp = join(parent, tempName);
    try {
      await makePrivateDirectory(temp);
      const key = await generateKey(opts.keyType);
      const root = await createRootCertificate({
        key,
        subject: { O: opts.trustDomain },
        days: opts.days ?? 3650,
        now: opts.now,
      });
      await writeFileAtomic(join(temp, ISTIO_FILES.key), encodePrivateKeyPem(key), PRIVATE_FILE_MODE);
      await writeFileAtomic(join(temp, ISTIO_FILES.cert), root.pem);
      await writeFileAtomic(join(temp, ISTIO_FILES.roots), root.pem);
      // Istio's secret carries an empty cert-chain.pem when the signing certificate is the root.
      await writeFileAtomic(join(temp, ISTIO_FILES.chain), '');
      await rmdir(opts.dir).catch(() => {}); // only an empty leftover directory; never a bundle
      await rename(temp, opts.dir);
      created = true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw diskFullError(err, opts.dir) ?? err;
    } finally {
      await rm(temp, { recursive: true, force: true });
      releaseTemporaryName(tempName);
    }
  }
  const bundle = await loadBundleFromDir(opts.dir, { now: opts.now, source: 'self-signed' });
  return { bundle, created, removed };
}
