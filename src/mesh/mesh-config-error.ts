// The one error a bad mesh configuration produces: every problem of every file at once, so the
// operator fixes them in one pass instead of one per restart.
import { MeshcaError } from '../errors.js';

export const MESH_CONFIG_INVALID = 'MESH_CONFIG_INVALID';

export class MeshConfigError extends MeshcaError {
  /** Each problem as `<file>: document <n> (<kind> <name>): <field path>: <why>`, in file order. */
  readonly problems: readonly string[];

  constructor(path: string, problems: readonly string[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      MESH_CONFIG_INVALID,
      'config',
      `mesh configuration ${path} has ${count}; fix ${problems.length === 1 ? 'it' : 'them'} and reload:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.problems = Object.freeze([...problems]);
  }
}
