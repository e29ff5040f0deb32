// The real `openssl` CLI as an independent judge: the one runner every test uses (asynchronous, so a
// slow key generation never blocks the event loop a server under test runs on), and its verdicts.
import { spawn } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import type { TempDir } from './temp-dir.js';

export interface OpensslResult {
  stdout: string;
  stderr: string;
  status: number;
}

export interface OpensslOptions {
  cwd?: string;
  input?: string | Buffer;
}

/** Runs `openssl args…` and resolves with its output; never rejects on a non-zero exit (tests assert on it). */
export function openssl(args: string[], opts: OpensslOptions = {}): Promise<OpensslResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        status: code ?? -1,
      }),
    );
    // openssl may exit without reading its input (e.g. on a bad argument); its status says why.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
  });
}

function failure(args: string[], result: OpensslResult): Error {
  return new Error(`openssl ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
}

/** Like openssl(), but fails the test with openssl's stderr when the command does not succeed. */
export async function opensslOk(args: string[], opts: OpensslOptions = {}): Promise<string> {
  const result = await openssl(args, opts);
  if (result.status !== 0) throw failure(args, result);
  return result.stdout;
}

/**
 * `openssl x509 -noout -text` of a certificate (`req` for a CSR), from a file or from PEM text given
 * as `{ pem }`; rejects when OpenSSL cannot read it.
 */
export function opensslText(
  source: string | { pem: string },
  command: 'x509' | 'req' = 'x509',
): Promise<string> {
  return typeof source === 'string'
    ? opensslOk([command, '-in', source, '-noout', '-text'])
    : opensslOk([command, '-noout', '-text'], { input: source.pem });
}

/** `AA:BB:…`, the way OpenSSL prints key identifiers. */
export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().match(/../g)!.join(':');
}

let csrCount = 0;

/**
 * A CSR for `key` made by `openssl req` rather than by meshca, with `subject` (empty by default)
 * and each of `addext` as an `-addext` extension; the key file is written in `dir`.
 */
export function opensslCsr(dir: TempDir, key: KeyObject, addext: string[], subject = '/'): Promise<string> {
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

let verifyCount = 0;

/**
 * `openssl verify -auth_level 1 -CAfile roots [-untrusted intermediates] leaf` (at `at`, if given).
 * Auth level 1 is what refuses SHA-1 signatures below the root; at level 0 (the CLI's default)
 * OpenSSL 3.0 still accepts them.
 */
export async function opensslVerify(
  dir: TempDir,
  o: { roots: string[]; intermediates?: string[]; leaf: string; at?: Date },
): Promise<{ ok: boolean; output: string }> {
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
  const result = await openssl(args);
  return { ok: result.status === 0 && /: OK\s*$/.test(result.stdout), output: result.stdout + result.stderr };
}
