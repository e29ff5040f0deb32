// Finding the YAML files of a mesh configuration (one file, or a directory read in name order) and
// splitting them into objects: multi-document YAML, empty documents skipped, `kind: List` unpacked.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { configError } from '../errors.js';
import { type Findings, isMapping } from './document-scope.js';

/** One object of a YAML document, not yet validated. */
export interface RawObject {
  readonly file: string;
  readonly index: number;
  readonly itemPath: string;
  readonly value: unknown;
}

const YAML_FILE = /\.ya?ml$/;

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}

/**
 * The files to read: `path` itself, or the `*.yaml`/`*.yml` files of the directory `path` in name
 * order. Hidden names are skipped: editors' lock and swap files, and Kubernetes' `..data` links.
 */
export async function listConfigFiles(path: string): Promise<{ files: string[]; directory: boolean }> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      throw configError(
        'MESH_CONFIG_NOT_FOUND',
        `mesh configuration ${path} does not exist; give a YAML file or a directory of *.yaml files`,
        err,
      );
    }
    throw configError(
      'MESH_CONFIG_UNREADABLE',
      `mesh configuration ${path} cannot be read (${errorCode(err)}); check its permissions`,
      err,
    );
  }
  if (!info.isDirectory()) return { files: [path], directory: false };
  let names: string[];
  try {
    names = await readdir(path);
  } catch (err) {
    throw configError(
      'MESH_CONFIG_UNREADABLE',
      `mesh configuration directory ${path} cannot be listed (${errorCode(err)}); check its permissions`,
      err,
    );
  }
  const files: string[] = [];
  for (const name of names.filter((n) => !n.startsWith('.') && YAML_FILE.test(n)).sort()) {
    const file = join(path, name);
    // A dangling link is kept so that reading it reports the problem; a directory named x.yaml is not a file.
    const isDirectory = await stat(file).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDirectory) files.push(file);
  }
  return { files, directory: true };
}

/** Every non-empty object of `files`, in order; unreadable files and YAML syntax errors become problems. */
export async function readMeshDocuments(files: readonly string[], findings: Findings): Promise<RawObject[]> {
  const objects: RawObject[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      findings.problem(
        file,
        0,
        `${file}: cannot be read (${errorCode(err)}); check that it exists and is readable`,
      );
      continue;
    }
    for (const [i, doc] of parseAllDocuments(text).entries()) {
      const index = i + 1;
      const syntax = doc.errors[0];
      if (syntax) {
        // The yaml package appends a source excerpt after the first line; the line and column suffice.
        const why = syntax.message.split('\n')[0]!.replace(/:$/, '');
        findings.problem(file, index, `${file}: document ${index}: YAML syntax error: ${why}`);
        continue;
      }
      let value: unknown;
      try {
        value = doc.toJS();
      } catch (err) {
        findings.problem(
          file,
          index,
          `${file}: document ${index}: YAML cannot be read: ${(err as Error).message}`,
        );
        continue;
      }
      if (value === null || value === undefined) continue;
      if (isMapping(value) && value.kind === 'List' && Array.isArray(value.items)) {
        for (const [j, item] of value.items.entries()) {
          objects.push({ file, index, itemPath: `items[${j}].`, value: item });
        }
        continue;
      }
      objects.push({ file, index, itemPath: '', value });
    }
  }
  return objects;
}
