// Shared pieces of the tests where Istio's real agent (pilot-agent) takes its certificate from a
// running `meshca serve`: a working directory, tokens from the CA's embedded issuer, the openssl judge.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMeshca } from '../support/meshca-process.js';
import { opensslOk } from '../support/openssl.js';

export interface WorkDir {
  path: string;
  remove(): Promise<void>;
}

export async function workDir(name: string): Promise<WorkDir> {
  const path = await mkdtemp(join(tmpdir(), `meshca-istio-agent-${name}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** `meshca args…`, failing the test with its output unless it exits 0; resolves with stdout. */
export async function meshca(args: string[], cwd?: string): Promise<string> {
  const result = await runMeshca(args, cwd ? { cwd } : {});
  assert.equal(result.code, 0, `meshca ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

/** A service-account token from the embedded issuer of the CA whose data directory is `dataDir`. */
export function token(dataDir: string, namespace: string, serviceAccount: string): Promise<string> {
  return meshca(['token', '-n', namespace, '--service-account', serviceAccount, '--data-dir', dataDir]);
}

/** `openssl args…` in `cwd`, failing the test on a non-zero exit; resolves with stdout. */
export const openssl = (args: string[], cwd: string): string => opensslOk(args, { cwd });

/** `diff -s A B` as the seed task runs it: resolves with its output ("Files A and B are identical"). */
export function diffS(a: string, b: string, cwd: string): string {
  const run = spawnSync('diff', ['-s', a, b], { cwd, encoding: 'utf8' });
  assert.equal(run.status, 0, `diff -s ${a} ${b}:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** `openssl x509 -text -noout` of `pem` into `cwd/name`, so two certificates compare with diff -s. */
export async function x509Text(pem: string, name: string, cwd: string): Promise<string> {
  await writeFile(join(cwd, `${name}.pem`), pem);
  await writeFile(join(cwd, `${name}.txt`), openssl(['x509', '-in', `${name}.pem`, '-text', '-noout'], cwd));
  return `${name}.txt`;
}

/** The URI SANs of a certificate file, as openssl prints them. */
export function uriSans(certFile: string, cwd: string): string[] {
  const text = openssl(['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'], cwd);
  return [...text.matchAll(/URI:(\S+?)(?:,|$)/gm)].map((m) => m[1]!);
}
