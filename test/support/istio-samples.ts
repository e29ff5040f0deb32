// Where Istio's published sample certificates are: ../shared/istio-samples-certs beside the
// checkout (how CI lays it out), or MESHCA_SAMPLES_DIR.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function locate(): string {
  const candidates = [
    process.env.MESHCA_SAMPLES_DIR,
    fileURLToPath(new URL('../../../shared/istio-samples-certs', import.meta.url)),
    '/work/shared/istio-samples-certs',
  ].filter((c): c is string => Boolean(c));
  return candidates.find((c) => existsSync(`${c}/MANIFEST.txt`)) ?? candidates[0]!;
}

/** Absolute path of the samples directory (no trailing slash). */
export const SAMPLES_DIR = locate();
