// Where a Kubernetes Secret named in YAML lives without Kubernetes: a folder of the data directory
// (`<dataDir>/secrets/<name>/`, one file per key), or a path the operator wrote instead of a name.
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isDnsSubdomain, quote } from './names.js';

/**
 * The folder standing for the secret `ref`: a name (no "/") is looked up in the data directory; a
 * path (with "/") is taken as is, relative to the folder of the YAML file that names it.
 */
export function secretFolder(
  ref: string,
  configFile: string,
  dataDir: string | undefined,
): { path: string } | { why: string } {
  if (ref.includes('/')) return { path: isAbsolute(ref) ? ref : resolve(dirname(configFile), ref) };
  if (!isDnsSubdomain(ref)) {
    return { why: `${quote(ref)} is not a secret name; give a Kubernetes name, or a path containing "/"` };
  }
  if (dataDir === undefined) {
    return {
      why: `${quote(ref)} names a secret in the data directory, but no data directory is set; give a path containing "/" instead, or set the data directory`,
    };
  }
  return { path: join(dataDir, 'secrets', ref) };
}

async function kindOf(path: string): Promise<'file' | 'directory' | 'other' | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other';
  } catch {
    return undefined;
  }
}

/** Why the folder `dir` cannot stand for a secret holding `keys`, or undefined when it can. */
export async function secretFolderProblem(dir: string, keys: readonly string[]): Promise<string | undefined> {
  const kind = await kindOf(dir);
  if (kind === undefined)
    return `${dir} does not exist; create it with the secret's files (${keys.join(', ')})`;
  if (kind !== 'directory')
    return `${dir} is not a directory; a secret is a folder with one file per key (${keys.join(', ')})`;
  const missing: string[] = [];
  for (const key of keys) if ((await kindOf(join(dir, key))) !== 'file') missing.push(key);
  if (missing.length > 0)
    return `${dir} has no ${missing.join(' or ')}; put the secret's files there (${keys.join(', ')})`;
  return undefined;
}
