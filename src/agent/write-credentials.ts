// Writes a workload's credentials (cert-chain.pem, key.pem, root-cert.pem) the way Kubernetes
// writes projected volumes: into a fresh directory, then one atomic swap of a `..data` symlink.
// A reader never sees a key from one issuance beside a chain from another.
import { randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from '../lib/atomic-file.js';
import { makeDirectories } from '../lib/make-directories.js';

export const CREDENTIAL_FILES = { chain: 'cert-chain.pem', key: 'key.pem', root: 'root-cert.pem' } as const;
const DATA_LINK = '..data';

export interface WorkloadCredentials {
  certChainPem: string;
  keyPem: string;
  rootsPem: string;
}

/** What is in `dir` now, or undefined when nothing has been written yet. */
export async function readCredentials(dir: string): Promise<WorkloadCredentials | undefined> {
  try {
    const [certChainPem, keyPem, rootsPem] = await Promise.all(
      [CREDENTIAL_FILES.chain, CREDENTIAL_FILES.key, CREDENTIAL_FILES.root].map((f) =>
        readFile(join(dir, f), 'utf8'),
      ),
    );
    return { certChainPem: certChainPem!, keyPem: keyPem!, rootsPem: rootsPem! };
  } catch {
    return undefined;
  }
}

async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Writes the three files; returns which changed. Files that are identical are left alone, so
 * watchers are woken only by real changes.
 */
export async function writeCredentials(
  dir: string,
  next: WorkloadCredentials,
): Promise<{ changed: boolean; rootChanged: boolean }> {
  await makeDirectories(dir, 0o755);
  const current = await readCredentials(dir);
  const rootChanged = current?.rootsPem !== next.rootsPem;
  if (
    current &&
    current.certChainPem === next.certChainPem &&
    current.keyPem === next.keyPem &&
    !rootChanged
  ) {
    return { changed: false, rootChanged: false };
  }
  const version = `..${Date.now()}_${randomBytes(4).toString('hex')}`;
  const versionDir = join(dir, version);
  await writeFileAtomic(join(versionDir, CREDENTIAL_FILES.chain), next.certChainPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(join(versionDir, CREDENTIAL_FILES.key), next.keyPem, PRIVATE_FILE_MODE);
  await writeFileAtomic(join(versionDir, CREDENTIAL_FILES.root), next.rootsPem, PUBLIC_FILE_MODE);
  const previous = (await isSymlink(join(dir, DATA_LINK))) ? await readlink(join(dir, DATA_LINK)) : undefined;
  const tempLink = join(dir, `..data_tmp_${randomBytes(4).toString('hex')}`);
  await symlink(version, tempLink);
  await rename(tempLink, join(dir, DATA_LINK)); // the one atomic step
  for (const file of Object.values(CREDENTIAL_FILES)) {
    const path = join(dir, file);
    if (!(await isSymlink(path))) {
      const tmp = `${path}.${randomBytes(4).toString('hex')}.lnk`;
      await symlink(join(DATA_LINK, file), tmp);
      await rename(tmp, path);
    }
  }
  if (previous && previous !== version) await rm(join(dir, previous), { recursive: true, force: true });
  // Leftovers of a crash between steps: old version directories nothing points to.
  for (const name of await readdir(dir)) {
    if (name.startsWith('..') && name !== DATA_LINK && name !== version && !name.startsWith('..data')) {
      await rm(join(dir, name), { recursive: true, force: true });
    }
  }
  return { changed: true, rootChanged };
}
