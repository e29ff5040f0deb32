// Loading the mesh configuration from Istio's own YAML kinds: every file read, every problem found
// and reported together, and the result frozen (a reload builds a new one; nothing changes in place).

import { deepFreeze } from '../lib/deep-freeze.js';
import { composeMeshConfig } from './compose-mesh-config.js';
import { Findings } from './document-scope.js';
import { MeshConfigError } from './mesh-config-error.js';
import { type ParsedObjects, parseMeshObject } from './parse-mesh-object.js';
import { listConfigFiles, readMeshDocuments } from './read-mesh-documents.js';
import type { MeshConfigResult } from './types.js';

export interface LoadMeshConfigOptions {
  /** The data directory whose `secrets/<name>/` folders stand for the Secrets that issuers name. */
  dataDir?: string;
}

/**
 * Reads `path` (a YAML file, or a directory whose `*.yaml`/`*.yml` files are read in name order).
 * Throws MeshConfigError (MESH_CONFIG_INVALID) listing every problem, or MESH_CONFIG_NOT_FOUND.
 */
export async function loadMeshConfig(
  path: string,
  opts: LoadMeshConfigOptions = {},
): Promise<MeshConfigResult> {
  const { files, directory } = await listConfigFiles(path);
  const findings = new Findings();
  if (directory && files.length === 0) {
    findings.note(path, 0, `${path}: no *.yaml or *.yml files; using the default mesh configuration`);
  }
  const parsed: ParsedObjects = { operators: [], proxyConfigs: [], peerAuthentications: [], signers: [] };
  for (const object of await readMeshDocuments(files, findings)) {
    await parseMeshObject(object, findings, parsed, opts);
  }
  const config = composeMeshConfig(parsed);
  if (findings.problemCount > 0) throw new MeshConfigError(path, findings.problems(files));
  return deepFreeze({ config, notes: findings.notes(files), files });
}
