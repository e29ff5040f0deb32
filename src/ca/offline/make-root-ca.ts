// `meshca certs root-ca`: Istio's Makefile target of the same name — a root CA key, certificate,
// the CSR it was made from, and an OpenSSL config describing the profile.
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { makePrivateDirectory } from '../../lib/make-private-directory.js';
import { buildCaCsr } from '../../pki/build-ca-csr.js';
import { createRootCertificate } from '../../pki/create-root-certificate.js';
import { encodePrivateKeyPem, generateKey, keyFromPrivateKey } from '../../pki/keys.js';
import type { CaKey, CertificateInfo } from '../../pki/types.js';
import { generatePkcs11Key } from '../pkcs11/generate-pkcs11-key.js';
import type { TokenKeyRef } from '../pkcs11/pkcs11-ca-key.js';
import { refuseOverwrite } from './hierarchy-files.js';
import { rootCaConf } from './openssl-conf.js';
import { ROOT_FILES, type RootProfile } from './profile.js';

export async function makeRootCa(opts: {
  dir: string;
  profile: RootProfile;
  force?: boolean;
  now?: Date;
  /** Make the key inside this PKCS#11 token (sensitive, not extractable) instead of root-key.pem. */
  tokenKey?: TokenKeyRef;
}): Promise<{ certificate: CertificateInfo; files: string[] }> {
  const path = (name: string) => join(opts.dir, name);
  await refuseOverwrite([path(ROOT_FILES.key), path(ROOT_FILES.cert)], opts.force ?? false);
  await makePrivateDirectory(opts.dir);
  if (opts.tokenKey) {
    const key = await generatePkcs11Key(opts.tokenKey, opts.profile.keyType);
    try {
      const certificate = await writeRootFiles(path, key, opts);
      return { certificate, files: [ROOT_FILES.cert, ROOT_FILES.conf, ROOT_FILES.csr].map(path) };
    } finally {
      await key.close();
    }
  }
  const key = await generateKey(opts.profile.keyType);
  // Key first: a crash after it leaves a key without certificate, never a certificate without key.
  await writeFileAtomic(path(ROOT_FILES.key), encodePrivateKeyPem(key), PRIVATE_FILE_MODE);
  const certificate = await writeRootFiles(path, keyFromPrivateKey(key), opts);
  return { certificate, files: [ROOT_FILES.cert, ROOT_FILES.key, ROOT_FILES.conf, ROOT_FILES.csr].map(path) };
}

/** The root's CSR, its OpenSSL profile and, last, its certificate, all signed by `key`. */
async function writeRootFiles(
  path: (name: string) => string,
  key: CaKey,
  opts: { profile: RootProfile; now?: Date },
): Promise<CertificateInfo> {
  const csr = await buildCaCsr({ key, subject: opts.profile.subject, isCa: true });
  const certificate = await createRootCertificate({
    key,
    subject: opts.profile.subject,
    days: opts.profile.days,
    now: opts.now,
  });
  const bits = key.publicKey.asymmetricKeyDetails?.modulusLength ?? 4096;
  const md = opts.profile.keyType === 'ec-p384' ? 'sha384' : 'sha256';
  await writeFileAtomic(path(ROOT_FILES.conf), rootCaConf(opts.profile.subject, bits, md, opts.profile.days));
  await writeFileAtomic(path(ROOT_FILES.csr), csr);
  await writeFileAtomic(path(ROOT_FILES.cert), certificate.pem);
  return certificate;
}
