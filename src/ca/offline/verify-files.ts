// `meshca certs verify`: checks a certificate the way the CA will — chain to a root, validity,
// CA flags, path length, no SHA-1 — and, for a workload leaf, the SPIFFE X.509-SVID rules.
import { readFile } from 'node:fs/promises';
import { configError, isMeshcaError } from '../../errors.js';
import { checkWorkloadSvid } from '../../pki/check-workload-svid.js';
import { keyMatchesCertificate } from '../../pki/key-matches-certificate.js';
import { readPrivateKey } from '../../pki/keys.js';
import { parseCertificates } from '../../pki/parse-certificate.js';
import type { CertificateInfo } from '../../pki/types.js';
import { verifyChain } from '../../pki/verify-chain.js';

export interface FileVerdict {
  ok: boolean;
  reasons: string[];
  leaf: CertificateInfo;
  path: CertificateInfo[];
}

async function readCerts(path: string): Promise<CertificateInfo[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw configError('CERTS_MISSING_FILE', `cannot read ${path}: ${(err as Error).message}`, err);
  }
  return parseCertificates(text, path);
}

export async function verifyCertificateFiles(opts: {
  root: string;
  chain?: string;
  cert: string;
  key?: string;
  now?: Date;
}): Promise<FileVerdict> {
  const roots = await readCerts(opts.root);
  const certs = await readCerts(opts.cert);
  const leaf = certs[0]!;
  // A chain file often starts with the certificate itself (cert-chain.pem, workload-cert-chain.pem).
  const intermediates = [...certs.slice(1), ...(opts.chain ? await readCerts(opts.chain) : [])];
  const reasons: string[] = [];
  if (opts.key) {
    let keyText: string;
    try {
      keyText = await readFile(opts.key, 'utf8');
    } catch (err) {
      throw configError('CERTS_MISSING_FILE', `cannot read ${opts.key}: ${(err as Error).message}`, err);
    }
    try {
      if (!keyMatchesCertificate(readPrivateKey(keyText, opts.key), leaf)) {
        reasons.push(
          `${opts.key}: key does not match certificate ${opts.cert} ("${leaf.subject || leaf.uris[0]}")`,
        );
      }
    } catch (err) {
      if (!isMeshcaError(err)) throw err;
      reasons.push(err.message);
    }
  }
  const verdict = verifyChain({ leaf, intermediates, roots, at: opts.now });
  if (!verdict.ok) reasons.push(...verdict.reasons);
  if (leaf.isCa !== true) reasons.push(...checkWorkloadSvid(leaf).map((r) => `SPIFFE X.509-SVID: ${r}`));
  return { ok: reasons.length === 0, reasons, leaf, path: verdict.ok ? verdict.path : [] };
}
