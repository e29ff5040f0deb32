// `meshca certs workload <namespace>` (Istio's `<namespace>-certs`, for VMs): a workload key and
// SPIFFE certificate signed by the namespace's intermediate, made first from the root if absent.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../../lib/atomic-file.js';
import { makePrivateDirectory } from '../../lib/make-private-directory.js';
import { buildWorkloadCsr } from '../../pki/build-workload-csr.js';
import { issueWorkloadCertificate } from '../../pki/issue-workload-certificate.js';
import { encodePrivateKeyPem, generateKey } from '../../pki/keys.js';
import { parseCsr } from '../../pki/parse-csr.js';
import { formatWorkloadId } from '../../pki/spiffe-id.js';
import { fileExists, loadIssuer, refuseOverwrite } from './hierarchy-files.js';
import { makeIntermediate } from './make-intermediate.js';
import {
  INTERMEDIATE_FILES,
  type IntermediateProfile,
  WORKLOAD_FILES,
  type WorkloadProfile,
} from './profile.js';

export async function makeWorkload(opts: {
  rootDir: string;
  namespace: string;
  profile: WorkloadProfile;
  intermediate: IntermediateProfile;
  force?: boolean;
  now?: Date;
}): Promise<{ spiffeId: string; files: string[] }> {
  const out = join(opts.rootDir, opts.namespace);
  const path = (name: string) => join(out, name);
  const spiffeId = formatWorkloadId({
    trustDomain: opts.profile.trustDomain,
    namespace: opts.namespace,
    serviceAccount: opts.profile.serviceAccount,
  });
  await refuseOverwrite([path(WORKLOAD_FILES.key), path(WORKLOAD_FILES.cert)], opts.force ?? false);
  if (!(await fileExists(path(INTERMEDIATE_FILES.cert)))) {
    await makeIntermediate({
      rootDir: opts.rootDir,
      cluster: opts.namespace,
      profile: opts.intermediate,
      now: opts.now,
    });
  }
  const issuer = await loadIssuer(
    path(INTERMEDIATE_FILES.cert),
    path(INTERMEDIATE_FILES.key),
    `run "meshca certs intermediate ${opts.namespace}" first`,
    opts.now,
  );
  try {
    const key = await generateKey(opts.profile.keyType);
    const csr = parseCsr(buildWorkloadCsr({ key, uri: spiffeId }));
    const leaf = await issueWorkloadCertificate({
      issuer,
      csr,
      spiffeId,
      ttlSeconds: opts.profile.days * 86_400,
      now: opts.now,
    });
    const rootPem = await readFile(path(INTERMEDIATE_FILES.root), 'utf8');
    await makePrivateDirectory(out);
    await writeFileAtomic(path(WORKLOAD_FILES.key), encodePrivateKeyPem(key), PRIVATE_FILE_MODE);
    await writeFileAtomic(path(WORKLOAD_FILES.cert), leaf.pem);
    await writeFileAtomic(path(WORKLOAD_FILES.chain), leaf.pem + issuer.certificate.pem + rootPem);
    return {
      spiffeId,
      files: [WORKLOAD_FILES.cert, WORKLOAD_FILES.key, WORKLOAD_FILES.chain, WORKLOAD_FILES.root].map(path),
    };
  } finally {
    await issuer.release();
  }
}
