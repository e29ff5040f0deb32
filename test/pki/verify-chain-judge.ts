// What the verifyChain tests share: Istio's sample certificates, and openssl as the judge that every
// verdict of verifyChain must agree with (`openssl verify -auth_level 1 -CAfile … -untrusted …`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCertificates } from '../../src/pki/parse-certificate.js';
import type { CertificateInfo, ChainVerdict } from '../../src/pki/types.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { SAMPLES_DIR } from '../support/istio-samples.js';
import { opensslVerify } from '../support/openssl.js';
import type { TempDir } from '../support/temp-dir.js';

export const ROOT = 'O=Istio, CN=Root CA';
export const INT = 'O=Istio, CN=Intermediate CA, L=cluster1';
export const LEAF_EXT = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
];

/** The certificates of one of Istio's sample files. */
export const samples = (file: string) =>
  parseCertificates(readFileSync(`${SAMPLES_DIR}/${file}`, 'utf8'), file);

/** Runs verifyChain and openssl (working in `dir`) on the same input, asserts they agree, and returns meshca's verdict. */
export async function judgeChain(
  dir: TempDir,
  o: { leaf: CertificateInfo; intermediates?: CertificateInfo[]; roots: CertificateInfo[]; at?: Date },
): Promise<ChainVerdict> {
  const verdict = verifyChain(o);
  const theirs = await opensslVerify(dir, {
    roots: o.roots.map((c) => c.pem),
    intermediates: o.intermediates?.map((c) => c.pem),
    leaf: o.leaf.pem,
    at: o.at,
  });
  assert.equal(
    verdict.ok,
    theirs.ok,
    `meshca says ${JSON.stringify(verdict.ok ? 'ok' : verdict.reasons)}, openssl says ${theirs.output}`,
  );
  return verdict;
}

export function reasonsOf(verdict: ChainVerdict): string[] {
  assert.equal(verdict.ok, false);
  return verdict.ok ? [] : verdict.reasons;
}

export function pathOf(verdict: ChainVerdict): string[] {
  assert.ok(verdict.ok, verdict.ok ? '' : verdict.reasons.join('\n'));
  return verdict.ok ? verdict.path.map((c) => c.subject || c.uris[0]!) : [];
}
