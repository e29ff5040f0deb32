// The embedded default CA (Istio's istio-ca-secret): a self-signed root made once in
// <data-dir>/ca and reused on every restart. Several processes starting at once agree on one root.
import { readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { configError } from '../errors.js';
import { createFileExclusive, PRIVATE_FILE_MODE, writeFileAtomic } from '../lib/atomic-file.js';
import { diskFullError } from '../lib/disk-full.js';
import { makePrivateDirectory } from '../lib/make-private-directory.js';
import { releaseTemporaryName, temporaryName } from '../lib/temporary-name.js';
import { createRootCertificate } from '../pki/create-root-certificate.js';
import { encodePrivateKeyPem, generateKey } from '../pki/keys.js';
import type { KeyType } from '../pki/types.js';
import { openOrGeneratePkcs11Key } from './pkcs11/generate-pkcs11-key.js';
import { openPkcs11CaKey, type Pkcs11CaKey, type TokenKeyRef } from './pkcs11/pkcs11-ca-key.js';
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
  /** The root's key in a PKCS#11 token (made there on first start) instead of ca-key.pem. */
  caKey?: TokenKeyRef;
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
): Promise<{ bundle: SigningBundle; created: boolean; removed: string[]; tokenKey?: Pkcs11CaKey }> {
  const removed = await removeSelfSignedCaLeftovers(opts.dir);
  let created = false;
  let tokenKey: Pkcs11CaKey | undefined;
  try {
    if (opts.caKey) ({ tokenKey, created } = await tokenKeyAndRoot(opts, opts.caKey));
    else if (!(await hasBundle(opts.dir))) created = await createSelfSignedCa(opts, undefined);
    const bundle = await loadBundleFromDir(opts.dir, { now: opts.now, source: 'self-signed', key: tokenKey });
    return { bundle, created, removed, tokenKey };
  } catch (err) {
    await tokenKey?.close();
    throw err;
  }
}

/** How long a process waits for another one making the root's key in the token. */
const TOKEN_LOCK_WAIT_MS = 60_000;

/**
 * The root's key in a token, and the root made with it when there is none yet (a missing key for an
 * existing root is an error to report, never a reason to make one). A token cannot make a key only
 * if absent, so of several processes starting at once (serve --workers) one makes key and root under
 * a lock file beside `dir`, and the others wait for its root.
 */
async function tokenKeyAndRoot(
  opts: SelfSignedCaOptions,
  ref: TokenKeyRef,
): Promise<{ tokenKey: Pkcs11CaKey; created: boolean }> {
  if (await hasBundle(opts.dir)) return { tokenKey: await openPkcs11CaKey(ref), created: false };
  const lock = join(dirname(opts.dir), `.${basename(opts.dir)}.token-key.lock`);
  if (await createFileExclusive(lock, String(process.pid), PRIVATE_FILE_MODE)) {
    try {
      const tokenKey = await openOrGeneratePkcs11Key(ref, opts.keyType);
      try {
        return { tokenKey, created: await createSelfSignedCa(opts, tokenKey) };
      } catch (err) {
        await tokenKey.close();
        throw err;
      }
    } finally {
      await rm(lock, { force: true });
    }
  }
  const deadline = Date.now() + TOKEN_LOCK_WAIT_MS;
  while (!(await hasBundle(opts.dir))) {
    if (Date.now() > deadline) {
      throw configError(
        'PKCS11_OPERATION_FAILED',
        `another meshca process has been making the self-signed root's key in the token for ${TOKEN_LOCK_WAIT_MS / 1000} s (lock ${lock}); if no other meshca runs, remove ${lock} and start again`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { tokenKey: await openPkcs11CaKey(ref), created: false };
}

/** Makes the root in a private temp directory renamed into place; false when another process won the race. */
async function createSelfSignedCa(
  opts: SelfSignedCaOptions,
  tokenKey: Pkcs11CaKey | undefined,
): Promise<boolean> {
  const parent = dirname(opts.dir);
  const tempName = temporaryName(basename(opts.dir));
  const temp = join(parent, tempName);
  try {
    await makePrivateDirectory(temp);
    const fileKey = tokenKey ? undefined : await generateKey(opts.keyType);
    const root = await createRootCertificate({
      key: tokenKey ?? fileKey!,
      subject: { O: opts.trustDomain },
      days: opts.days ?? 3650,
      now: opts.now,
    });
    // With the key in a token there is no ca-key.pem: nothing in the directory could sign.
    if (fileKey)
      await writeFileAtomic(join(temp, ISTIO_FILES.key), encodePrivateKeyPem(fileKey), PRIVATE_FILE_MODE);
    await writeFileAtomic(join(temp, ISTIO_FILES.cert), root.pem);
    await writeFileAtomic(join(temp, ISTIO_FILES.roots), root.pem);
    // Istio's secret carries an empty cert-chain.pem when the signing certificate is the root.
    await writeFileAtomic(join(temp, ISTIO_FILES.chain), '');
    await rmdir(opts.dir).catch(() => {}); // only an empty leftover directory; never a bundle
    await rename(temp, opts.dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw diskFullError(err, opts.dir) ?? err;
    return false;
  } finally {
    await rm(temp, { recursive: true, force: true });
    releaseTemporaryName(tempName);
  }
}
