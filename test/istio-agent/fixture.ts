// Shared pieces of the tests where Istio's real agent (pilot-agent) takes its certificate from a
// running `meshca serve`: a working directory, tokens from the CA's embedded issuer, the openssl judge.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runMeshcaOk } from '../support/meshca-process.js';
import { opensslOk, opensslText } from '../support/openssl.js';

/** A service-account token from the embedded issuer of the CA whose data directory is `dataDir`. */
export async function token(dataDir: string, namespace: string, serviceAccount: string): Promise<string> {
  return (
    await runMeshcaOk(['token', '-n', namespace, '--service-account', serviceAccount, '--data-dir', dataDir])
  ).stdout;
}

/** `diff -s A B` as the seed task runs it: resolves with its output ("Files A and B are identical"). */
export function diffS(a: string, b: string, cwd: string): string {
  const run = spawnSync('diff', ['-s', a, b], { cwd, encoding: 'utf8' });
  assert.equal(run.status, 0, `diff -s ${a} ${b}:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** `openssl x509 -text -noout` of `pem` into `cwd/name`, so two certificates compare with diff -s. */
export async function x509Text(pem: string, name: string, cwd: string): Promise<string> {
  await writeFile(join(cwd, `${name}.pem`), pem);
  await writeFile(join(cwd, `${name}.txt`), await opensslText(join(cwd, `${name}.pem`)));
  return `${name}.txt`;
}

/** The URI SANs of a certificate file, as openssl prints them. */
export async function uriSans(certFile: string, cwd: string): Promise<string[]> {
  const text = await opensslOk(['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'], { cwd });
  return [...text.matchAll(/URI:(\S+?)(?:,|$)/gm)].map((m) => m[1]!);
}
