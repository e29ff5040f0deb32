// Test helpers for using the real `openssl` CLI as an independent judge: run it, and keep its input
// and output files in a private temporary directory that is removed afterwards.
import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Runs `openssl args…` and returns its output; never throws on a non-zero exit (tests assert on it). */
export function openssl(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): OpensslResult {
  const result = spawnSync('openssl', args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status ?? -1 };
}

/** Like openssl(), but fails the test with openssl's stderr when the command does not succeed. */
export function opensslOk(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): string {
  const result = openssl(args, opts);
  if (result.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

export interface TempDir {
  path: string;
  /** Absolute path of `name` inside the directory. */
  file(name: string): string;
  /** Writes `content` to `name` and returns its absolute path. */
  write(name: string, content: string | Buffer): string;
  read(name: string): string;
  remove(): void;
}

let csrCount = 0;

/**
 * A CSR for `key` made by `openssl req` rather than by meshca, with `subject` (empty by default)
 * and each of `addext` as an `-addext` extension; the key file is written in `dir`.
 */
export function opensslCsr(dir: TempDir, key: KeyObject, addext: string[], subject = '/'): string {
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const keyFile = dir.write(`csr-key-${++csrCount}.pem`, keyPem);
  return opensslOk([
    'req',
    '-new',
    '-key',
    keyFile,
    '-subj',
    subject,
    ...addext.flatMap((e) => ['-addext', e]),
  ]);
}

/** A fresh directory under the OS temp dir; call remove() (e.g. in `after`) to delete it. */
export function makeTempDir(prefix = 'meshca-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    write: (name, content) => {
      const file = join(path, name);
      writeFileSync(file, content);
      return file;
    },
    read: (name) => readFileSync(join(path, name), 'utf8'),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

let verifyCount = 0;

/**
 * `openssl verify -auth_level 1 -CAfile roots [-untrusted intermediates] leaf` (at `at`, if given).
 * Auth level 1 is what refuses SHA-1 signatures below the root; at level 0 (the CLI's default)
 * OpenSSL 3.0 still accepts them.
 */
export function opensslVerify(
  dir: TempDir,
  o: { roots: string[]; intermediates?: string[]; leaf: string; at?: Date },
): { ok: boolean; output: string } {
  const n = ++verifyCount;
  const args = [
    'verify',
    '-auth_level',
    '1',
    '-CAfile',
    dir.write(`verify-${n}-roots.pem`, o.roots.join('')),
  ];
  if (o.intermediates && o.intermediates.length > 0) {
    args.push('-untrusted', dir.write(`verify-${n}-untrusted.pem`, o.intermediates.join('')));
  }
  if (o.at) args.push('-attime', String(Math.floor(o.at.getTime() / 1000)));
  args.push(dir.write(`verify-${n}-leaf.pem`, o.leaf));
  const result = openssl(args);
  return { ok: result.status === 0 && /: OK\s*$/.test(result.stdout), output: result.stdout + result.stderr };
}

/** `ec` = P-256; RSA sizes as given. Returns the key file's path. */
export function opensslKey(
  dir: TempDir,
  name: string,
  type: 'ec' | 'ec-p384' | 'rsa-512' | 'rsa-2048' | 'rsa-4096' = 'ec',
): string {
  const path = dir.file(`${name}.key`);
  const opts =
    type === 'ec'
      ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
      : type === 'ec-p384'
        ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']
        : ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${type.slice(4)}`];
  opensslOk(['genpkey', ...opts, '-out', path]);
  return path;
}

export interface OpensslCertOptions {
  /** OpenSSL `-subj` form, e.g. `/O=Istio/CN=Root CA`; `/` for an empty subject. */
  subj: string;
  /** Path of the subject's private key (see opensslKey). */
  key: string;
  /** Lines of an x509v3 extension section, e.g. `basicConstraints=critical,CA:TRUE`. */
  ext?: string[];
  days?: number;
  /** Signature digest (`sha256` by default; `sha1` for weak-signature tests). */
  digest?: string;
}

let certCount = 0;

function signWithOpenssl(dir: TempDir, o: OpensslCertOptions, signer: string[]): string {
  const n = ++certCount;
  const csr = dir.file(`mint-${n}.csr`);
  const out = dir.file(`mint-${n}.pem`);
  opensslOk(['req', '-new', '-key', o.key, '-subj', o.subj, '-out', csr]);
  const args = [
    'x509',
    '-req',
    '-in',
    csr,
    ...signer,
    '-days',
    String(o.days ?? 30),
    `-${o.digest ?? 'sha256'}`,
  ];
  if (o.ext && o.ext.length > 0) {
    args.push('-extfile', dir.write(`mint-${n}.ext`, `${o.ext.join('\n')}\n`));
  }
  opensslOk([...args, '-out', out]);
  return readFileSync(out, 'utf8');
}

/** A self-signed certificate made as Istio's Makefile makes roots (`openssl x509 -req -signkey`); PEM. */
export function opensslSelfSigned(dir: TempDir, o: OpensslCertOptions): string {
  return signWithOpenssl(dir, o, ['-signkey', o.key]);
}

/** A certificate for `o.key` signed by the CA in `caCert` (PEM path) with `caKey`; PEM. */
export function opensslIssue(
  dir: TempDir,
  o: OpensslCertOptions & { caCert: string; caKey: string },
): string {
  return signWithOpenssl(dir, o, [
    '-CA',
    o.caCert,
    '-CAkey',
    o.caKey,
    '-set_serial',
    String(Date.now() * 1000 + certCount),
  ]);
}
