// The documentation names files and folders of the repository; when code moves (lib/data/lastfm.ts became the folder
// lib/data/lastfm/) a stale name sends a reader nowhere. These tests read every page a newcomer is sent to and check
// that each repository path it names exists in this checkout, and that no page points outside a clone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';

const root = repoRoot();

/** Folders a repository path starts with; anything else in backticks is a command, a key or a value. */
const PREFIXES = [
  'lib/',
  'cli/',
  'docs/',
  'notebooks/',
  'config/',
  'datasets/',
  'scripts/',
  'test/',
  'bench/',
  'data/',
  'figures/',
  '.ci/',
];
const TOP_LEVEL = new Set(['package.json', 'package-lock.json', 'README.md', 'environment.md', 'tsconfig.json']);
/**
 * A bare file name with one of these endings is a source or a page (`regions.ts`, `core/types.ts`), checked against
 * the folders it could be relative to. Output names (`summary.json`, `samples.jsonl`) are deliberately not here, and a
 * bare extension (`.d.ts`) is not a name.
 */
const SOURCE_NAME = /^\w[\w.-]*(\/[\w.-]+)*\.(ts|mjs|ipynb|md)$/;
/** Globs, templates, HTML entities and elisions stand for many paths or for none; they cannot be checked. */
const PATTERN_CHARS = /[*<>{}$&…|[\]]/;
/** Upper-case words are placeholders the reader fills in (`data/runs/NAME/`, `jupyter trust FILE.ipynb`). */
const PLACEHOLDER_SEGMENT = /^([A-Z][A-Z_]*|(FILE|MODEL|NAME|DIR)\.\w+)$/;
const URL = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Run outputs are not in a clone until a run writes them, so a path under data/ or figures/ is accepted when it
 * lies inside one of the output folders config/default.json names (`paths.raw`, `paths.figures`, …): the run creates
 * those, while a misspelt folder (`data/procesed/`) still fails. Paths that exist (data/README.md) pass as usual.
 */
const OUTPUT_FOLDERS: string[] = Object.values(
  (JSON.parse(fs.readFileSync(path.join(root, 'config', 'default.json'), 'utf8')) as { paths: Record<string, string> })
    .paths,
);

interface Ref {
  line: number;
  text: string;
  kind: 'code' | 'link';
}

/** Splits a code span or a shell line into the words that could be paths, without sentence punctuation. */
function words(code: string): string[] {
  return code
    .split(/[\s()"'`,;=]+/)
    .map((w) => w.replace(/[.:]+$/, ''))
    .filter((w) => w.length > 0);
}

function looksLikeRepoPath(word: string): boolean {
  if (URL.test(word) || PATTERN_CHARS.test(word)) return false;
  if (word.split('/').some((s) => PLACEHOLDER_SEGMENT.test(s))) return false;
  return (
    PREFIXES.some((p) => word.startsWith(p)) || TOP_LEVEL.has(word) || word.startsWith('../') || SOURCE_NAME.test(word)
  );
}

/** Repository paths a markdown page names: in code spans, in fenced blocks, and as relative link targets. */
function pathRefs(markdown: string): Ref[] {
  const refs: Ref[] = [];
  let fenced = false;
  markdown.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*```/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (fenced) {
      for (const w of words(raw)) if (looksLikeRepoPath(w)) refs.push({ line, text: w, kind: 'code' });
      return;
    }
    for (const m of raw.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (!URL.test(target) && !target.startsWith('#')) refs.push({ line, text: target, kind: 'link' });
    }
    for (const m of raw.matchAll(/`([^`]+)`/g)) {
      for (const w of words(m[1])) if (looksLikeRepoPath(w)) refs.push({ line, text: w, kind: 'code' });
    }
  });
  return refs;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    out.add(
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return out;
}

const inside = (parent: string, child: string): boolean => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

// The working tree, not `git ls-files`: the suite must also run from a copy without .git, such as an unpacked archive
// (the price: a file that exists here but was never committed passes).
function exists(abs: string, wantDir: boolean): boolean {
  if (!fs.existsSync(abs)) return false;
  return !wantDir || fs.statSync(abs).isDirectory();
}

/**
 * What is wrong with one reference made from `page` (a path relative to `repo`), or null when it resolves.
 * Link targets are relative to the page, as a markdown viewer reads them. Code spans are relative to the repository
 * root; a folder's own README.md may also name its files relative to itself or to lib/ (`core/types.ts`), and a bare
 * source name in any page (`regions.ts`) may live in any layer folder of lib/.
 */
function problemOf(repo: string, page: string, ref: Ref): string | null {
  const pageDir = path.dirname(path.join(repo, page));
  const [target, anchor] = ref.text.split('#');
  const wantDir = target.endsWith('/');
  if (ref.kind === 'link') {
    const abs = path.resolve(pageDir, decodeURIComponent(target));
    if (!inside(repo, abs)) return `links to ${ref.text}, outside the repository (a clone does not have it)`;
    if (!exists(abs, wantDir)) return `links to ${ref.text}, which does not exist`;
    if (anchor && abs.endsWith('.md') && !anchors(fs.readFileSync(abs, 'utf8')).has(anchor)) {
      return `links to ${ref.text}, but ${path.relative(repo, abs)} has no heading with that anchor`;
    }
    return null;
  }
  // The compiled library as a notebook in notebooks/ imports it (build/ is made by `npm test` and `npm start`).
  if (target.startsWith('../build/')) return null;
  if (target.startsWith('../')) {
    // Code spans name paths from the repository root, so `../shared/DESIGN.md` means a folder beside the clone.
    const abs = path.resolve(repo, target);
    if (!inside(repo, abs)) return `names ${ref.text}, outside the repository (a clone does not have it)`;
    return exists(abs, wantDir) ? null : `names ${ref.text}, which does not exist`;
  }
  const lib = path.join(repo, 'lib');
  const bases = [repo];
  if (/^lib\/[^/]+\/README\.md$/.test(page)) bases.push(pageDir, lib);
  const prefixed = PREFIXES.some((p) => target.startsWith(p)) || TOP_LEVEL.has(target);
  if (!prefixed) {
    bases.push(pageDir, lib);
    const layers = fs.readdirSync(lib, { withFileTypes: true }).filter((e) => e.isDirectory());
    bases.push(...layers.map((e) => path.join(lib, e.name)));
  }
  if (bases.some((b) => exists(path.join(b, target), wantDir))) return null;
  const fromRoot = path.join(repo, target);
  if (OUTPUT_FOLDERS.some((f) => inside(path.join(repo, f), fromRoot))) return null;
  return `names ${ref.text}, which does not exist`;
}

/** The pages a newcomer is sent to: the README, environment.md, every docs page and every lib folder's README. */
function pages(): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  const lib = fs
    .readdirSync(path.join(root, 'lib'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(root, 'lib', e.name, 'README.md')))
    .map((e) => `lib/${e.name}/README.md`);
  return ['README.md', 'environment.md', ...docs.sort(), ...lib.sort()];
}

function problemsIn(repo: string, page: string, text: string): string[] {
  return pathRefs(text).flatMap((ref) => {
    const problem = problemOf(repo, page, ref);
    return problem ? [`${page}:${ref.line}: ${problem}`] : [];
  });
}

test('the path finder reads code spans, shell blocks and link targets, and skips URLs, globs and placeholders', () => {
  const page = [
    'Run `node scripts/setup.mjs` after editing `lib/core/config.ts`; see [the models](docs/models.md#the-catalogue).',
    'Not paths: `npm test`, `data/processed/<domain>/`, `lib/**/*.ts`, `data/runs/NAME/`, `jupyter trust FILE.ipynb`,',
    '`summary.json`, [a page](https://example.org/lib/x.ts), [a heading](#models), `"figures": { "font": "x" }`.',
    '```bash',
    'npm start -- --config config/paper-figures.json   # then: figures/movielens/entropy-trend.png',
    '```',
    'Bare sources: `regions.ts`, `core/types.ts`, not `.d.ts`; outside: `../shared/DESIGN.md`.',
  ].join('\n');
  assert.deepEqual(
    pathRefs(page).map((r) => `${r.line} ${r.kind} ${r.text}`),
    [
      '1 link docs/models.md#the-catalogue',
      '1 code scripts/setup.mjs',
      '1 code lib/core/config.ts',
      '5 code config/paper-figures.json',
      '5 code figures/movielens/entropy-trend.png',
      '7 code regions.ts',
      '7 code core/types.ts',
      '7 code ../shared/DESIGN.md',
    ],
  );
});

test('a moved file, a misspelt output folder, a dead anchor and a path outside the clone are each reported', () => {
  const page = [
    'Parsed by `lib/data/lastfm.ts` and `lastfm.ts`; written to `data/procesed/x.jsonl`.',
    'Fine: `lib/data/lastfm/`, `data/raw`, `data/processed/movielens/users.jsonl`, `figures/report.html`,',
    '`core/types.ts`.',
    'See [models](models.md#no-such-heading), [design](../../shared/DESIGN.md) and `../shared/DESIGN.md`.',
    'A folder named as a file: `lib/data/regions.ts/`.',
  ].join('\n');
  const problems = problemsIn(root, 'docs/example.md', page);
  assert.deepEqual(problems, [
    'docs/example.md:1: names lib/data/lastfm.ts, which does not exist',
    'docs/example.md:1: names lastfm.ts, which does not exist',
    'docs/example.md:1: names data/procesed/x.jsonl, which does not exist',
    'docs/example.md:4: links to models.md#no-such-heading, but docs/models.md has no heading with that anchor',
    'docs/example.md:4: links to ../../shared/DESIGN.md, outside the repository (a clone does not have it)',
    'docs/example.md:4: names ../shared/DESIGN.md, outside the repository (a clone does not have it)',
    'docs/example.md:5: names lib/data/regions.ts/, which does not exist',
  ]);
});

test('every repository path named in README.md, environment.md, docs/*.md and lib/*/README.md exists', () => {
  const all = pages();
  assert.ok(all.includes('docs/models.md') && all.includes('lib/query/README.md'), all.join(', '));
  const problems: string[] = [];
  let checked = 0;
  for (const page of all) {
    const text = fs.readFileSync(path.join(root, page), 'utf8');
    checked += pathRefs(text).length;
    problems.push(...problemsIn(root, page, text));
  }
  // A finder that silently stopped matching would pass every page; the pages name a few hundred paths.
  assert.ok(checked > 200, `only ${checked} paths found in ${all.length} pages`);
  assert.deepEqual(problems, []);
});

test('no page refers to ../shared/, which lives beside the development checkout, not in a clone', () => {
  const hits = pages().flatMap((page) =>
    fs
      .readFileSync(path.join(root, page), 'utf8')
      .split('\n')
      .flatMap((l, i) => (l.includes('../shared/') ? [`${page}:${i + 1}: ${l.trim()}`] : [])),
  );
  assert.deepEqual(hits, []);
});
