// Test support for the `meshca certs` tests: the repository's folder, what OpenSSL says about the
// files meshca writes, and the shell commands its configs document. Running meshca: meshca-process.ts.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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
