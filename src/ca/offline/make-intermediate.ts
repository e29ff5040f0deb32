// `meshca certs intermediate <cluster>` (Istio's `<cluster>-cacerts`): an intermediate CA for one
// cluster, signed by the root in the same directory, laid out as Istio's cacerts secret. With
// --csr-only it stops at the key and CSR, for a root kept on another machine.
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { configError } from '../../errors.js';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { makePrivateDirectory } from '../../lib/make-private-directory.js';
import { buildCaCsr } from '../../pki/build-ca-csr.js';
import { createIntermediateCertificate } from '../../pki/create-intermediate-certificate.js';
import { asCaKey, encodePrivateKeyPem, generateKey } from '../../pki/keys.js';
import type { CertificateInfo, NameSpec } from '../../pki/types.js';
import { generatePkcs11Key } from '../pkcs11/generate-pkcs11-key.js';
import type { Pkcs11CaKey, TokenKeyRef } from '../pkcs11/pkcs11-ca-key.js';
import { fileExists, type KeySource, loadIssuer, refuseOverwrite } from './hierarchy-files.js';
import { intermediateCaConf } from './openssl-conf.js';
import { INTERMEDIATE_FILES, type IntermediateProfile, ROOT_FILES } from './profile.js';

/** Cluster names become directory names and `L=`; keep them to what both allow. */
export function checkClusterName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw configError(
      'CERTS_BAD_NAME',
      `"${name}" is not a usable cluster name: use letters, digits, ".", "_" or "-" (e.g. cluster1, east)`,
    );
  }
  return name;
}

export function intermediateSubject(profile: IntermediateProfile, cluster: string): NameSpec {
  return { O: profile.org, CN: profile.cn, L: cluster };
}

/**
 * Writes the intermediate's key, the OpenSSL config describing its profile, and its CSR: all that
 * --csr-only hands to the root's owner, and the first files of a full intermediate (key first: a
 * crash after it leaves a key without certificate, never a certificate without key). A key in a
 * token has no file.
 */
async function writeKeyConfAndCsr(
  path: (name: string) => string,
  key: KeyObject | Pkcs11CaKey,
  subject: NameSpec,
  profile: IntermediateProfile,
): Promise<void> {
  const csr = await buildCaCsr({ key, subject, dnsNames: profile.sanDns, isCa: true });
  await makePrivateDirectory(dirname(path(INTERMEDIATE_FILES.key)));
  const bits = asCaKey(key).publicKey.asymmetricKeyDetails?.modulusLength ?? 4096;
  const md = profile.keyType === 'ec-p384' ? 'sha384' : 'sha256';
  if (!('display' in key)) {
    await writeFileAtomic(path(INTERMEDIATE_FILES.key), encodePrivateKeyPem(key), PRIVATE_FILE_MODE);
  }
  await writeFileAtomic(
    path(INTERMEDIATE_FILES.conf),
    intermediateCaConf(subject, profile.sanDns, bits, md, profile.days),
  );
  await writeFileAtomic(path(INTERMEDIATE_FILES.csr), csr);
}

export async function makeIntermediate(opts: {
  rootDir: string;
  cluster: string;
  profile: IntermediateProfile;
  csrOnly?: boolean;
  force?: boolean;
  now?: Date;
  /** Make the intermediate's key inside this PKCS#11 token instead of ca-key.pem. */
  tokenKey?: TokenKeyRef;
  /** The root's key: a file (default root-key.pem beside root-cert.pem) or a key in a token. */
  rootKey?: KeySource;
}): Promise<{ certificate?: CertificateInfo; files: string[] }> {
  const cluster = checkClusterName(opts.cluster);
  const out = join(opts.rootDir, cluster);
  const path = (name: string) => join(out, name);
  const rootCert = join(opts.rootDir, ROOT_FILES.cert);
  const rootKey = opts.rootKey ?? join(opts.rootDir, ROOT_FILES.key);
  const subject = intermediateSubject(opts.profile, cluster);
  const keyFiles = opts.tokenKey ? [] : [INTERMEDIATE_FILES.key];

  if (opts.csrOnly) {
    await refuseOverwrite([path(INTERMEDIATE_FILES.key), path(INTERMEDIATE_FILES.csr)], opts.force ?? false);
    const key = await newIntermediateKey(opts.profile, opts.tokenKey);
    try {
      await writeKeyConfAndCsr(path, key, subject, opts.profile);
    } finally {
      if ('display' in key) await key.close();
    }
    return { files: [...keyFiles, INTERMEDIATE_FILES.csr, INTERMEDIATE_FILES.conf].map(path) };
  }

  if (!(await fileExists(rootCert))) {
    throw configError(
      'CERTS_NO_ROOT',
      `there is no root CA in ${opts.rootDir} (${rootCert} is missing); run "meshca certs root-ca" there first, or use --csr-only and have the root's owner run "meshca certs sign-intermediate"`,
    );
  }
  const issuer = await loadIssuer(
    rootCert,
    rootKey,
    'the root key must sit beside root-cert.pem; if it lives on another machine, use --csr-only',
    opts.now,
  );
  try {
    await refuseOverwrite([path(INTERMEDIATE_FILES.key), path(INTERMEDIATE_FILES.cert)], opts.force ?? false);
    const key = await newIntermediateKey(opts.profile, opts.tokenKey);
    try {
      const certificate = await createIntermediateCertificate({
        subjectPublicKey: asCaKey(key).publicKey,
        subject,
        issuer,
        days: opts.profile.days,
        pathLen: 0,
        dnsNames: opts.profile.sanDns,
        now: opts.now,
      });
      const rootPem = await readFile(rootCert, 'utf8');
      await writeKeyConfAndCsr(path, key, subject, opts.profile);
      await writeFileAtomic(path(INTERMEDIATE_FILES.cert), certificate.pem);
      await writeFileAtomic(path(INTERMEDIATE_FILES.chain), certificate.pem + issuer.certificate.pem);
      await writeFileAtomic(path(INTERMEDIATE_FILES.root), rootPem);
      return {
        certificate,
        files: [INTERMEDIATE_FILES.cert, ...keyFiles, INTERMEDIATE_FILES.chain, INTERMEDIATE_FILES.root].map(
          path,
        ),
      };
    } finally {
      if ('display' in key) await key.close();
    }
  } finally {
    await issuer.release();
  }
}

/** A fresh key for the intermediate: in the token when one is named, else in memory (for ca-key.pem). */
async function newIntermediateKey(
  profile: IntermediateProfile,
  tokenKey: TokenKeyRef | undefined,
): Promise<KeyObject | Pkcs11CaKey> {
  return tokenKey ? generatePkcs11Key(tokenKey, profile.keyType) : generateKey(profile.keyType);
}
