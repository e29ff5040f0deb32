// Istio's published sample certificates (samples/certs), copied unchanged into the repository at
// test/fixtures/istio-samples-certs/. Tests read them from there and from nowhere else; MANIFEST.txt
// names every file with its sha256, checked once here so a missing or altered copy fails with the
// path instead of a bare ENOENT (or a puzzling verdict) deep inside a test.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../fixtures/istio-samples-certs', import.meta.url));

/** Reads MANIFEST.txt (`<sha256>  <file>` lines, `#` comments) and checks every file it names. */
function checked(dir: string): string {
  const manifest = join(dir, 'MANIFEST.txt');
  if (!existsSync(manifest)) {
    throw new Error(
      `Istio's sample certificates are missing: ${manifest} does not exist (expected in the repository)`,
    );
  }
  const problems: string[] = [];
  const lines = readFileSync(manifest, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  for (const line of lines) {
    const m = /^([0-9a-f]{64})\s+(\S+)$/.exec(line.trim());
    if (!m) {
      problems.push(`${manifest}: unreadable line ${JSON.stringify(line)}`);
      continue;
    }
    const sha = m[1]!;
    const name = m[2]!;
    const path = join(dir, name);
    if (!existsSync(path)) problems.push(`${path} is missing`);
    else if (createHash('sha256').update(readFileSync(path)).digest('hex') !== sha) {
      problems.push(`${path} differs from the sha256 in ${manifest}`);
    }
  }
  if (lines.length === 0) problems.push(`${manifest} names no files`);
  if (problems.length > 0) {
    throw new Error(`Istio's sample certificates are not as committed:\n  ${problems.join('\n  ')}`);
  }
  // The real path, as the CLI prints it when it resolves files (the checkout may sit behind a symlink).
  return realpathSync(dir);
}

/** Absolute path of test/fixtures/istio-samples-certs (no trailing slash), checked against its MANIFEST. */
export const SAMPLES_DIR = checked(DIR);
