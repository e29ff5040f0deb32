// The step-ca program for the custom-CA demo and the step-ca tests: built once from Debian's smallstep
// sources by scripts/build-step-ca.sh and cached in <package root>/.cache/step-ca.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { internalError } from '../../errors.js';

const BUILD_SCRIPT = join('scripts', 'build-step-ca.sh');
/** The build script's exit code for "Go cannot be installed here"; anything else non-zero is a real failure. */
const CANNOT_INSTALL = 3;

let built: { bin?: string; reason?: string } | undefined;

/** The package root holding scripts/build-step-ca.sh, from src/ (tsx) and from dist/src/ (compiled) alike. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, BUILD_SCRIPT))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function build(): { bin?: string; reason?: string } {
  const root = packageRoot();
  if (!root) {
    // The npm package ships without scripts/: only a source checkout can build step-ca.
    return {
      reason: `step-ca cannot be built here: ${BUILD_SCRIPT} is not beside this meshca installation; run from a meshca source checkout`,
    };
  }
  const run = spawnSync('bash', [join(root, BUILD_SCRIPT)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (run.status === 0) {
    const bin = run.stdout.trim().split('\n').pop();
    if (bin) return { bin };
  }
  if (run.status === CANNOT_INSTALL) {
    return { reason: `step-ca cannot be built here: ${run.stderr.trim().split('\n').pop()}` };
  }
  const how = run.error
    ? run.error.message
    : run.status === 0
      ? 'it printed no binary path'
      : `exit ${run.status ?? run.signal}`;
  throw internalError(
    'DEMO_STEP_CA_BUILD_FAILED',
    `${BUILD_SCRIPT} failed (${how}); fix what its output says and run it again:\n${run.stderr ?? ''}`,
    run.error,
  );
}

/**
 * The step-ca binary's path, built on first use (about a minute) and cached, keyed by the Debian
 * package versions. Undefined, with the reason kept for `stepCaMissingReason()`, only when Go or the
 * smallstep sources cannot be installed on this machine (or the build script is not there, as in the
 * npm package); a failed build throws DEMO_STEP_CA_BUILD_FAILED.
 */
export function ensureStepCaBinary(): string | undefined {
  built ??= build();
  return built.bin;
}

/** Why `ensureStepCaBinary()` returned undefined (for a test's `{ skip: reason }` or the demo's message). */
export function stepCaMissingReason(): string | undefined {
  return built?.reason;
}
