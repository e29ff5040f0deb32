// The trust bundle the CA hands out, published as `<data-dir>/root-cert.pem` on start and whenever
// the roots change: the data directory's counterpart of Istio's istio-ca-root-cert ConfigMap, so
// `meshca root-cert` prints what the running CA serves, whether it is self-signed or plugged in.
import { join } from 'node:path';
import { PUBLIC_FILE_MODE, writeFileAtomic } from '../lib/atomic-file.js';
import type { Logger } from '../log.js';

export const PUBLISHED_ROOTS_FILE = 'root-cert.pem';

/** Writes the bundle atomically; a failure is logged (serving matters more than the copy). */
export async function publishTrustBundle(dataDir: string, rootsPem: string, log: Logger): Promise<void> {
  const path = join(dataDir, PUBLISHED_ROOTS_FILE);
  try {
    await writeFileAtomic(path, rootsPem, PUBLIC_FILE_MODE);
  } catch (err) {
    log.warn('cannot publish the trust bundle; "meshca root-cert" will read the CA files instead', {
      event: 'roots-publish-failed',
      path,
      reason: (err as Error).message,
    });
  }
}
