/**
 * Docs that stand alone: anyone with only a clone finds everything. No file
 * of the repository points outside it to the old shared contract, every
 * relative Markdown link of the docs reaches a file of the repository, and
 * the contract (docs/api.md) names every route of the route table.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../functions/core/errors.ts';
import { facadeRoutes, facades, httpRoutes, wsRoutes } from '../../lib/routes.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** written in two parts so that this file does not hold what it looks for */
const OUTSIDE = ['..', 'shared'].join('/');

/** The repository's files: tracked, and new ones not ignored (so a doc is checked before its first commit). */
const repoFiles: string[] = [
  ...new Set(
    execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
      .toString('utf8')
      .split('\0')
      .filter(Boolean),
  ),
].filter((f) => existsSync(join(root, f)));
const repoFileSet = new Set(repoFiles);
const repoDirs = new Set(
  repoFiles.flatMap((f) =>
    f
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);

const skipped = (f: string) => f.split('/').includes('node_modules') || f.endsWith('package-lock.json');
/** a NUL byte in the first 8 KB: a binary file */
const isBinary = (data: Buffer) => data.subarray(0, 8192).includes(0);

const docs = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** Markdown without its fenced code blocks (shell and JSON there can look like links or headings). */
const withoutCode = (md: string) => md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** Link targets of a Markdown text: inline `[text](target "title")` and reference definitions `[label]: target`. */
function linkTargets(md: string): string[] {
  const text = withoutCode(md);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string);
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1] as string);
  return [...inline, ...references];
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of withoutCode(md).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = (m[1] as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative links of one doc: where each points (repository path) and its anchor. */
function relativeLinks(doc: string): { target: string; path: string; anchor: string | undefined }[] {
  return linkTargets(read(doc))
    .filter((t) => !isExternal(t) && !t.startsWith('#'))
    .map((target) => {
      const [file = '', anchor] = target.split('#', 2);
      const path = normalize(relative(root, resolve(root, dirname(doc), decodeURI(file))))
        .split(sep)
        .join('/');
      return { target, path, anchor };
    });
}

describe('docs stand alone', () => {
  it('finds the repository files and the docs', () => {
    expect(repoFiles).toContain('README.md');
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'docs/api.md']));
  });

  it(`no file of the repository refers to ${OUTSIDE}`, () => {
    const offenders: string[] = [];
    for (const file of repoFiles) {
      if (skipped(file)) continue;
      const data = readFileSync(join(root, file));
      if (isBinary(data)) continue;
      const text = data.toString('utf8');
      text.split('\n').forEach((line, i) => {
        if (line.includes(OUTSIDE)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it.each(docs)('every relative link of %s reaches a file of the repository', (doc) => {
    const broken = relativeLinks(doc)
      .filter(({ path }) => path.startsWith('..') || !(repoFileSet.has(path) || repoDirs.has(path)))
      .map(({ target }) => target);
    expect(broken).toEqual([]);
  });

  it.each(docs)('every anchor %s links to names a heading', (doc) => {
    const own = anchorsOf(read(doc));
    const broken: string[] = [];
    for (const target of linkTargets(read(doc))) {
      if (isExternal(target)) continue;
      if (target.startsWith('#')) {
        if (!own.has(target.slice(1))) broken.push(target);
        continue;
      }
      const link = relativeLinks(doc).find((l) => l.target === target);
      if (!link?.anchor || !link.path.endsWith('.md') || !repoFileSet.has(link.path)) continue;
      if (!anchorsOf(read(link.path)).has(link.anchor)) broken.push(target);
    }
    expect(broken).toEqual([]);
  });

  it('the README links the contract and the changelog inside the repository', () => {
    const targets = relativeLinks('README.md').map((l) => l.path);
    expect(targets).toContain('docs/api.md');
    expect(targets).toContain('CHANGELOG.md');
  });
});

describe('docs/api.md covers the route table', () => {
  const api = read('docs/api.md');
  /** `path` as a whole, not as the start of a longer path */
  const mentions = (text: string) => new RegExp(`${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_/{}-])`).test(api);

  it.each(httpRoutes.map((r) => [`${r.method} ${r.path}`, r.path] as const))('mentions %s', (routeKey, path) => {
    expect(mentions(path), path).toBe(true);
    expect(mentions(routeKey), routeKey).toBe(true);
  });

  it.each(wsRoutes.map((r) => r.routeKey))('mentions the WebSocket route %s', (routeKey) => {
    expect(api).toContain(`\`${routeKey}\``);
  });

  it.each(Object.entries(ERROR_STATUS))('documents the error code %s (%i)', (code, status) => {
    expect(api).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`));
  });

  it('names the scopes and the versioning policy', () => {
    expect(api).toContain('`presence:sys`');
    expect(api).toContain('`presence:admin`');
    expect(anchorsOf(api).has('versioning')).toBe(true);
  });
});

describe('docs/compat.md covers the facade table', () => {
  const compat = read('docs/compat.md');

  it.each(facadeRoutes().map((r) => [r.routeKey, r] as const))('documents %s', (_routeKey, route) => {
    // as code: the method and the path, a path variable as written or with a value in its place (`~` for RingCentral's
    // account), a common prefix maybe shortened to `…`, maybe with a query: the method and the path's last two segments
    const segment = (part: string) => (part.startsWith('{') ? '[^/`\\s]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const tail = route.path.split('/').filter(Boolean).slice(-2).map(segment).join('/');
    expect(compat).toMatch(new RegExp(`\`${route.method} [^\`]*/${tail}[\`?]`));
  });

  it.each(facades.map((f) => [f.name, f] as const))('names the facade %s, its function and its module', (_name, f) => {
    for (const text of [`\`${f.name}\``, `\`${f.id}\``, `\`${f.entry}\``]) expect(compat).toContain(text);
  });
});
