// `meshca certs sign-intermediate`: on the root's machine, signs an intermediate CSR made elsewhere
// with `meshca certs intermediate <cluster> --csr-only`, so the root key never travels.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { configError, isMeshcaError } from '../../errors.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { makePrivateDirectory } from '../../lib/make-private-directory.js';
import { signIntermediateCsr } from '../../pki/sign-intermediate-csr.js';
import type { CertificateInfo } from '../../pki/types.js';
import { type KeySource, loadIssuer, refuseOverwrite } from './hierarchy-files.js';
import { INTERMEDIATE_FILES, type IntermediateProfile } from './profile.js';

export async function signIntermediate(opts: {
  rootCert: string;
  /** The root key's file, or the root key in a PKCS#11 token. */
  rootKey: KeySource;
  csr: string;
  /** Where ca-cert.pem, cert-chain.pem and root-cert.pem go; default: beside the CSR. */
  outDir?: string;
  profile: IntermediateProfile;
  force?: boolean;
  now?: Date;
}): Promise<{ certificate: CertificateInfo; files: string[] }> {
  const out = opts.outDir ?? dirname(opts.csr);
  const path = (name: string) => join(out, name);
  const issuer = await loadIssuer(
    opts.rootCert,
    opts.rootKey,
    'give the root certificate and its key with --root-cert and --root-key',
    opts.now,
  );
  try {
    let csrPem: string;
    try {
      csrPem = await readFile(opts.csr, 'utf8');
    } catch (err) {
      throw configError(
        'CERTS_MISSING_FILE',
        `cannot read the CSR ${opts.csr}: ${(err as Error).message}`,
        err,
      );
    }
    await refuseOverwrite([path(INTERMEDIATE_FILES.cert)], opts.force ?? false);
    let certificate: CertificateInfo;
    try {
      certificate = await signIntermediateCsr({
        csrPem,
        issuer,
        days: opts.profile.days,
        pathLen: 0,
        dnsNames: opts.profile.sanDns,
        now: opts.now,
      });
    } catch (err) {
      // A token that fails while signing is the token's error, not the CSR's.
      if (isMeshcaError(err) && !err.code.startsWith('PKCS11_'))
        throw configError('CERTS_BAD_CSR', `${opts.csr}: ${err.message}`, err);
      throw err;
    }
    // The folder receives the intermediate's key next (by hand), so it is made private.
    await makePrivateDirectory(out);
    await writeFileAtomic(path(INTERMEDIATE_FILES.cert), certificate.pem);
    await writeFileAtomic(path(INTERMEDIATE_FILES.chain), certificate.pem + issuer.certificate.pem);
    await writeFileAtomic(path(INTERMEDIATE_FILES.root), issuer.certificate.pem);
    return {
      certificate,
      files: [INTERMEDIATE_FILES.cert, INTERMEDIATE_FILES.chain, INTERMEDIATE_FILES.root].map(path),
    };
  } finally {
    await issuer.release();
  }
}
