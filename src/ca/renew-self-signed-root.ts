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
 * The renewed root, with the same key and subject, and the trust bundle that goes with it: the
 * renewed root first, then every root of `texts.roots` still valid. Undefined when not yet due.
 * The same for the data directory's files and the Kubernetes home's istio-ca-secret.
 */
export async function renewedRoot(
  texts: { cert: string; key?: string; roots: string },
  where: string,
  policy: RootRenewalPolicy,
  now = new Date(),
  /** The root's key when it is in a token (serve --ca-key); otherwise texts.key is read. */
  tokenKey?: CaKey,
): Promise<{ cert: string; roots: string; renewal: RootRenewal } | undefined> {
  const current = parseCertificates(texts.cert, `${where} ${ISTIO_FILES.cert}`)[0]!;
  if (!rootRenewalDue(current, now, policy.gracePercent)) return undefined;
  const key = tokenKey ?? readPrivateKey(texts.key ?? '', `${where} ${ISTIO_FILES.key}`);
  const renewed = await renewRootCertificate({ key, current, days: policy.days, now });
  const oldRoots = parseCertificates(texts.roots, `${where} ${ISTIO_FILES.roots}`).filter(
    (r) => r.notAfter.getTime() > now.getTime() && r.fingerprint256 !== renewed.fingerprint256,
  );
  const roots = [renewed, ...oldRoots];
  return {
    cert: renewed.pem,
    roots: roots.map((r) => r.pem).join(''),
    renewal: {
      previousSerial: current.serialHex,
      previousNotAfter: current.notAfter,
      serial: renewed.serialHex,
      notAfter: renewed.notAfter,
      roots: roots.length,
    },
  };
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
  const read = (name: string) => readFile(join(dir, name), 'utf8');
  const current = parseCertificates(await read(ISTIO_FILES.cert), join(dir, ISTIO_FILES.cert))[0]!;
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
    const texts = {
      cert: await read(ISTIO_FILES.cert),
      key: tokenKey ? undefined : await read(ISTIO_FILES.key),
      roots: await read(ISTIO_FILES.roots),
    };
    if (parseCertificates(texts.cert, ISTIO_FILES.cert)[0]!.serialHex !== current.serialHex) return undefined;
    const renewed = await renewedRoot(texts, dir, policy, now, tokenKey);
    if (!renewed) return undefined;
    await writeFileAtomic(join(dir, ISTIO_FILES.roots), renewed.roots);
    await writeFileAtomic(join(dir, ISTIO_FILES.cert), renewed.cert);
    return renewed.renewal;
  } finally {
    await rm(lock, { force: true });
  }
}
