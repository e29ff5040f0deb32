// Renewal of the self-signed root (Istio's self-signed root rotator): before the root in
// <data-dir>/ca expires, it is re-issued with the same key and subject; the new certificate signs from
// then on, and the trust bundle keeps the old one beside it while it is valid. Certificates signed
// under either verify against either, so no workload has to notice.
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileExclusive, PRIVATE_FILE_MODE, writeFileAtomic } from '../lib/atomic-file.js';
import { renewRootCertificate } from '../pki/create-root-certificate.js';
import { readPrivateKey } from '../pki/keys.js';
import { parseCertificates } from '../pki/parse-certificate.js';
import type { CaKey } from '../pki/types.js';
import { ISTIO_FILES } from './read-bundle-files.js';

export interface RootRenewalPolicy {
  /** Renew when less than this share of the root's lifetime is left (Istio: 20%). */
  gracePercent: number;
  /** The renewed root's lifetime in days (Istio: 10 years). */
  days: number;
}

export const DEFAULT_ROOT_RENEWAL: RootRenewalPolicy = Object.freeze({ gracePercent: 20, days: 3650 });

/** A lock older than this was left by a process that died while renewing. */
const STALE_LOCK_MS = 10 * 60_000;
const LOCK_FILE = '.renewing';

/** True when the certificate has less than `gracePercent` of its lifetime left at `now`. */
export function rootRenewalDue(
  cert: { notBefore: Date; notAfter: Date },
  now: Date,
  gracePercent: number,
): boolean {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return cert.notAfter.getTime() - now.getTime() < (life * gracePercent) / 100;
}

export interface RootRenewal {
  previousSerial: string;
  previousNotAfter: Date;
  serial: string;
  notAfter: Date;
  /** Roots now in root-cert.pem, newest first. */
  roots: number;
}

/**
 * Renews the root in `dir` if it is due; resolves with what changed, or undefined when nothing was
 * due or another process is renewing right now (it will have done the same). Files are replaced one
 * at a time, root-cert.pem first, so a reader between the two sees old and new roots with the old
 * signing certificate: a bundle that verifies.
 */
export async function renewSelfSignedRootIfDue(
  dir: string,
  policy: RootRenewalPolicy,
  now = new Date(),
  /** The root's key when it is in a token (serve --ca-key); otherwise ca-key.pem is read. */
  tokenKey?: CaKey,
): Promise<RootRenewal | undefined> {
  const certPem = await readFile(join(dir, ISTIO_FILES.cert), 'utf8');
  const current = parseCertificates(certPem, join(dir, ISTIO_FILES.cert))[0]!;
  if (!rootRenewalDue(current, now, policy.gracePercent)) return undefined;
  const lock = join(dir, LOCK_FILE);
  const held = await stat(lock).then(
    (s) => s.mtimeMs,
    () => undefined,
  );
  if (held !== undefined && Date.now() - held > STALE_LOCK_MS) await rm(lock, { force: true });
  if (!(await createFileExclusive(lock, String(process.pid), PRIVATE_FILE_MODE))) return undefined;
  try {
    // Read again under the lock: another process may have renewed between our check and the lock.
    const fresh = parseCertificates(
      await readFile(join(dir, ISTIO_FILES.cert), 'utf8'),
      ISTIO_FILES.cert,
    )[0]!;
    if (fresh.serialHex !== current.serialHex) return undefined;
    const key =
      tokenKey ??
      readPrivateKey(await readFile(join(dir, ISTIO_FILES.key), 'utf8'), join(dir, ISTIO_FILES.key));
    const renewed = await renewRootCertificate({ key, current, days: policy.days, now });
    const oldRoots = parseCertificates(
      await readFile(join(dir, ISTIO_FILES.roots), 'utf8'),
      join(dir, ISTIO_FILES.roots),
    ).filter((r) => r.notAfter.getTime() > now.getTime() && r.fingerprint256 !== renewed.fingerprint256);
    const roots = [renewed, ...oldRoots];
    await writeFileAtomic(join(dir, ISTIO_FILES.roots), roots.map((r) => r.pem).join(''));
    await writeFileAtomic(join(dir, ISTIO_FILES.cert), renewed.pem);
    return {
      previousSerial: current.serialHex,
      previousNotAfter: current.notAfter,
      serial: renewed.serialHex,
      notAfter: renewed.notAfter,
      roots: roots.length,
    };
  } finally {
    await rm(lock, { force: true });
  }
}
