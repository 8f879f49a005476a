/**
 * Where things live: the repository root, configured paths resolved against it, each stage's folder, and whether a
 * dataset's raw folder keeps clear of every stage's folder (extraction writes there).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config, DomainName } from './config-types';
import { realPath, unsafePathReason, within } from './containment';

let root: string | null = null;

/**
 * Repository root: the folder holding package.json, found from this file whether it runs from source or from build/.
 * Constant for a process, so it is looked up once (prompts ask for it per item).
 */
export function repoRoot(): string {
  root ??= findRepoRoot();
  return root;
}

function findRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'config', 'default.json')))
      return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root above ${__dirname}`);
    dir = parent;
  }
}

/** Where a named run keeps its effective configuration, or null for the default layout. */
export function runConfigFile(config: Config): string | null {
  return config.run === null ? null : path.join(resolvePath(config.paths.runs), config.run, 'config.json');
}

/** Resolves a configured path against the repository root (absolute paths are kept). */
export function resolvePath(p: string): string {
  return path.isAbsolute(p) ? p : path.join(repoRoot(), p);
}

/** Every stage folder under one directory, in the default layout: for scratch runs, tests and benchmarks. */
export function pathsUnder(dir: string): Config['paths'] {
  const p = (...parts: string[]) => path.join(dir, ...parts);
  return {
    raw: p('raw'),
    processed: p('processed'),
    samples: p('samples'),
    responses: p('responses'),
    store: p('responses', 'store'),
    scores: p('scores'),
    figures: p('figures'),
    runs: p('runs'),
  };
}

export function domainDir(config: Config, stage: keyof Config['paths'], domain?: string): string {
  const base = resolvePath(config.paths[stage]);
  return domain ? path.join(base, domain) : base;
}

/** The stage folders a dataset's raw folder must keep clear of (extraction writes there), the store named first. */
const STAGE_FOLDERS = ['store', 'processed', 'samples', 'responses', 'scores', 'figures', 'runs'] as const;

/**
 * Why extracting `domain` into paths.raw/<folder> could touch what is not its own, or null. The folder must not be,
 * hold or lie inside another stage's folder (the response store above all). Extraction itself asks for more
 * (`extracting`): the real folder lies in paths.raw, and it is no other dataset's folder unless both come from the
 * same archive.
 */
export function rawFolderProblem(config: Config, domain: DomainName, extracting = false): string | null {
  const src = config.datasets[domain];
  const why = unsafePathReason(src.folder, 'segment');
  if (why) return `it ${why}`;
  const rawRoot = resolvePath(config.paths.raw);
  const target = realPath(path.join(rawRoot, src.folder));
  for (const stage of STAGE_FOLDERS) {
    const other = realPath(resolvePath(config.paths[stage]));
    if (within(target, other) || within(other, target))
      return `${path.join(rawRoot, src.folder)} ${target === other ? 'is' : within(target, other) ? 'lies inside' : 'holds'} the ${stage === 'store' ? 'response store' : `${stage} folder`} (paths.${stage}: ${other})`;
  }
  if (!extracting) return null;
  if (path.dirname(target) !== realPath(rawRoot))
    return `${path.join(rawRoot, src.folder)} leads to ${target}, outside paths.raw (${rawRoot})`;
  for (const [name, o] of Object.entries(config.datasets)) {
    if (name === domain || unsafePathReason(o.folder, 'segment')) continue;
    const theirs = realPath(path.join(rawRoot, o.folder));
    if ((within(target, theirs) || within(theirs, target)) && (o.url !== src.url || o.archive !== src.archive))
      return `${target} is the folder of the dataset "${name}" too, which comes from another archive (${o.url})`;
  }
  return null;
}
