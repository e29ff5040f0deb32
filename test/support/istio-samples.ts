// Where Istio's published sample certificates are: ../shared/istio-samples-certs beside the
// checkout (how CI lays it out), or MESHCA_SAMPLES_DIR.
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function locate(): string {
  const candidates = [
    process.env.MESHCA_SAMPLES_DIR,
    fileURLToPath(new URL('../../../shared/istio-samples-certs', import.meta.url)),
    '/work/shared/istio-samples-certs',
  ].filter((c): c is string => Boolean(c));
  const found = candidates.find((c) => existsSync(`${c}/MANIFEST.txt`));
  // The real path, as the CLI prints it when it resolves files (shared/ may be a symlink).
  return found ? realpathSync(found) : candidates[0]!;
}

/** Absolute path of the samples directory (no trailing slash). */
export const SAMPLES_DIR = locate();
