// README.md may link only to files inside the repository: every relative link (inline, reference
// definition, image, HTML href/src) must name a file or folder that exists in the checkout, is not
// git-ignored, and does not climb out of the repository (no ../shared/…, no absolute paths).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));

interface Link {
  line: number;
  target: string;
}

/** The link targets of a markdown text, with their line numbers; code blocks and code spans hold none. */
function markdownLinks(markdown: string): Link[] {
  const links: Link[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((raw, i) => {
    const opener = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fence !== undefined) {
      if (opener && opener[1]![0] === fence[0] && opener[1]!.length >= fence.length) fence = undefined;
      return;
    }
    if (opener) {
      fence = opener[1]!;
      return;
    }
    // A code span's text is not markdown; keep a placeholder so `[`x`](target)` stays a link.
    const line = raw.replace(/(`+)(?:(?!\1)[\s\S])+?\1/g, 'code');
    const push = (target: string | undefined) => {
      if (target !== undefined) links.push({ line: i + 1, target: target.trim() });
    };
    for (const m of line.matchAll(
      /\]\(\s*(?:<([^>]*)>|([^\s)]*))(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g,
    )) {
      push(m[1] ?? m[2]);
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*(?:<([^>]*)>|(\S+))/.exec(line);
    if (definition) push(definition[1] ?? definition[2]);
    for (const m of line.matchAll(/<(?:a|img)\b[^>]*?\s(?:href|src)\s*=\s*["']([^"']*)["']/gi)) push(m[1]);
  });
  return links;
}

/** Files that git ignores (dist/, node_modules/, .cache/ …) are in the checkout but not the repository. */
function ignoredByGit(root: string, paths: string[]): Set<string> {
  if (paths.length === 0) return new Set();
  const r = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], {
    cwd: root,
    input: paths.join('\n'),
    encoding: 'utf8',
  });
  if (r.status !== 0 && r.status !== 1) return new Set(); // no git, or not a checkout: nothing to ask
  return new Set(r.stdout.split('\n').filter(Boolean));
}

/** Every relative link of `file` that leaves `root` or names nothing there, as readable problems. */
function linkProblems(file: string, root: string): string[] {
  const problems: string[] = [];
  const candidates: { where: string; path: string; rel: string }[] = [];
  for (const { line, target } of markdownLinks(readFileSync(file, 'utf8'))) {
    const where = `${relative(root, file) || file}:${line}: ${JSON.stringify(target)}`;
    if (target === '' || target.startsWith('#')) continue; // a heading of the same page
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // a URL
    let pathPart = target.replace(/[?#].*$/, '');
    try {
      pathPart = decodeURIComponent(pathPart);
    } catch {
      problems.push(`${where} is not a valid URL path`);
      continue;
    }
    if (isAbsolute(pathPart)) {
      problems.push(`${where} is an absolute path; link relative to ${relative(root, file) || file}`);
      continue;
    }
    const path = resolve(dirname(file), pathPart);
    const rel = relative(root, path);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      problems.push(`${where} points outside the repository (${path})`);
      continue;
    }
    if (!existsSync(path)) {
      problems.push(`${where} names ${rel}, which does not exist`);
      continue;
    }
    const real = relative(root, realpathSync(path));
    if (real === '..' || real.startsWith(`..${sep}`) || isAbsolute(real)) {
      problems.push(`${where} resolves through a symlink to ${realpathSync(path)}, outside the repository`);
      continue;
    }
    candidates.push({ where, path, rel: rel || '.' });
  }
  const ignored = ignoredByGit(
    root,
    candidates.map((c) => c.rel),
  );
  for (const c of candidates) {
    if (ignored.has(c.rel))
      problems.push(`${c.where} names ${c.rel}, which git ignores (not in the repository)`);
  }
  return problems;
}

describe('README.md links', () => {
  test('every relative link names a file inside the repository that exists', () => {
    const readme = join(REPO, 'README.md');
    assert.ok(markdownLinks(readFileSync(readme, 'utf8')).length > 0, 'README.md has no links at all');
    assert.deepEqual(linkProblems(readme, REPO), []);
  });

  test('the checker finds links that leave the repository or name nothing', () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'meshca-readme-links-')));
    try {
      writeFileSync(join(root, 'here.md'), 'x');
      const doc = join(root, 'README.md');
      writeFileSync(
        doc,
        [
          'See [`../shared/DESIGN.md`](../shared/DESIGN.md) and [gone](docs/gone.md).',
          '[abs](/work/shared/x.md) [ok](here.md#top "title") [web](https://example.com/a) [same](#commands)',
          'Inline `[not a link](../nowhere)` is code.',
          '```',
          '[fenced](../nowhere)',
          '```',
          '[ref]: <../elsewhere/file.md>',
          '<img src="missing.png"> ![pic](here.md)',
        ].join('\n'),
      );
      assert.deepEqual(linkProblems(doc, root), [
        `README.md:1: "../shared/DESIGN.md" points outside the repository (${resolve(root, '../shared/DESIGN.md')})`,
        'README.md:1: "docs/gone.md" names docs/gone.md, which does not exist',
        'README.md:2: "/work/shared/x.md" is an absolute path; link relative to README.md',
        `README.md:7: "../elsewhere/file.md" points outside the repository (${resolve(root, '../elsewhere/file.md')})`,
        'README.md:8: "missing.png" names missing.png, which does not exist',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
