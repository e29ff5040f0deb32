// Test support for the `meshca` command: runs the built CLI (bin/meshca.js → dist/) as a real
// process with a small, fixed environment, and reads what OpenSSL says about the files it writes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MESHCA_BIN = join(REPO_DIR, 'bin', 'meshca.js');

export interface MeshcaResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunMeshcaOptions {
  cwd?: string;
  /** Added to a minimal environment (PATH, HOME, TMPDIR): the caller's own ROOTCA_DAYS & co never leak in. */
  env?: Record<string, string>;
  input?: string;
}

/** `node bin/meshca.js args…`; resolves with the exit code and both streams, never rejects on a non-zero exit. */
export function runMeshca(args: string[], opts: RunMeshcaOptions = {}): Promise<MeshcaResult> {
  if (!existsSync(join(REPO_DIR, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('the CLI is not built: run "npm run build" before the CLI tests');
  }
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MESHCA_BIN, ...args], {
      cwd: opts.cwd ?? REPO_DIR,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like runMeshca, but fails the test with both streams when the command does not exit 0. */
export async function runMeshcaOk(args: string[], opts: RunMeshcaOptions = {}): Promise<MeshcaResult> {
  const result = await runMeshca(args, opts);
  if (result.code !== 0) {
    throw new Error(`meshca ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result;
}

/**
 * The X509v3 extensions of `openssl x509 -text` or `openssl req -text` output, one line per
 * extension (`Basic Constraints: critical CA:TRUE, pathlen:0`), sorted: two certificates with the
 * same profile give the same lines whatever the order of the extensions in the DER.
 */
export function extensionLines(opensslText: string): string[] {
  const lines = opensslText.split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const header = /^(\s*)X509v3 ([^:]+):\s*(critical)?\s*$/.exec(lines[i]!);
    // `X509v3 extensions:` heads the list in x509 output; it is not an extension itself.
    if (!header || header[2] === 'extensions') {
      i++;
      continue;
    }
    const indent = header[1]!.length;
    const values: string[] = [];
    i++;
    // The value lines are indented deeper than the extension's name.
    while (i < lines.length && lines[i]!.length - lines[i]!.trimStart().length > indent) {
      values.push(lines[i]!.trim());
      i++;
    }
    out.push(`${header[2]}:${header[3] ? ' critical' : ''} ${values.join(' ')}`);
  }
  return out.sort();
}

/**
 * The shell commands an OpenSSL config written by meshca documents in its comment header
 * (`# Reproduce: openssl …`, continuation lines ending in `\` joined), in order.
 */
export function reproduceCommands(conf: string): string[] {
  const header: string[] = [];
  for (const line of conf.split('\n')) {
    if (!line.startsWith('#')) break;
    header.push(line.replace(/^#\s?/, ''));
  }
  const start = header.findIndex((l) => l.startsWith('Reproduce:'));
  if (start < 0) throw new Error(`no "# Reproduce:" line in the config header:\n${header.join('\n')}`);
  const commands: string[] = [];
  let pending = '';
  for (const raw of header.slice(start)) {
    const line = raw.replace(/^Reproduce:/, '').trim();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    commands.push(pending + line);
    pending = '';
  }
  return commands.filter((c) => c !== '');
}

/** Runs `command` with /bin/sh in `cwd`; throws with its output when it fails. */
export function sh(command: string, cwd: string): string {
  const r = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sh -c '${command}' exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
