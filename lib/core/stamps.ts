/**
 * Stage stamps: every stage output folder holds a stamp saying what its files were computed from — the code version
 * of the stage, the part of the configuration it reads, and the digest of every upstream file — and the digest of
 * each file it wrote. From them:
 * - a stage is skipped when all of that is unchanged (a second `npm start` costs seconds and pays nothing twice);
 * - a stage refuses to read an upstream output that is stale (computed from other inputs, by other code, with another
 *   configuration, or changed since), failed, or never finished, and says which file, against what, and the command
 *   that refreshes it;
 * - a notebook reads the parameters an upstream stage ran with from its stamp instead of repeating them.
 * Files are recorded relative to the stamp's folder, so a copied or moved data folder is checked against its own files.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from './canonical-json';
import { type Config, type DomainName, type ModelConfig, domainDir } from './config';
import { configChanges } from './config-diff';
import { readJson, writeJsonAtomic } from './io';
import type { StageName } from './types';

export function digestOf(...parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : canonicalJson(p)).update('\u0000');
  return h.digest('hex');
}

// Checking a chain of stages digests the same files several times in one process; unchanged files (same size and
// modification time) are read once.
const digestCache = new Map<string, string>();

export function fileDigest(file: string): string {
  const st = fs.statSync(file);
  const cacheKey = `${path.resolve(file)}\u0000${st.size}\u0000${st.mtimeMs}\u0000${st.ino}`;
  const cached = digestCache.get(cacheKey);
  if (cached) return cached;
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  const digest = h.digest('hex');
  digestCache.set(cacheKey, digest);
  return digest;
}

/** Large raw inputs (the 2.4 GB Last.fm file) are fingerprinted by size and mtime, not read. */
export function fileIdentity(file: string): string {
  const st = fs.statSync(file);
  return `${path.basename(file)}:${st.size}:${Math.round(st.mtimeMs)}`;
}

// ---------------------------------------------------------------- code versions

/**
 * The lib folders whose code decides each stage's output: its own folder, the folders it reads files through, and core.
 * (The pipeline and the CLI only orchestrate; they do not change what a stage computes.)
 */
export const STAGE_CODE: Record<StageName, string[]> = {
  preprocess: ['core', 'data'],
  sample: ['core', 'data', 'sample'],
  query: ['core', 'sample', 'query'],
  score: ['core', 'sample', 'query', 'score'],
  plot: ['core', 'sample', 'score', 'plot'],
};

/**
 * The code version of a stage is a digest of the library files it runs (the compiled .js when running from build/,
 * the .ts sources under tsx), not the package version plus a format version: this repository's version number is not
 * bumped on every change, so only a digest makes *every* change to a stage's code — a fixed scoring rule, a new curve
 * fit — mark its old outputs stale without anyone remembering to bump anything. The price is an occasional re-run
 * after an edit that changes no number (a comment), which is the safe side.
 * Test hook: UBP_CODE_SALT="score=2,sample=x" mixes a salt into the named stages' versions, as an upgrade would.
 */
export function codeVersion(stage: StageName): string {
  const salt = (process.env.UBP_CODE_SALT ?? '')
    .split(',')
    .map((s) => s.trim().split('='))
    .find(([name]) => name === stage)?.[1];
  const files = STAGE_CODE[stage].map((folder) => folderCodeDigest(folder));
  return digestOf(files, salt ?? '').slice(0, 16);
}

const folderDigests = new Map<string, string>();

function folderCodeDigest(folder: string): string {
  const cached = folderDigests.get(folder);
  if (cached) return cached;
  const root = path.join(path.dirname(__dirname), folder);
  const files: string[] = [];
  (function walk(dir: string) {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(js|ts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(p);
    }
  })(root);
  files.sort();
  const digest = digestOf(files.map((f) => [path.relative(root, f), fileDigest(f)]));
  folderDigests.set(folder, digest);
  return digest;
}

// ---------------------------------------------------------------- where each stage's stamp lives and what it reads

/** One stage for one domain (query: for one model; score and plot: over a list of models). */
export interface StageRef {
  stage: StageName;
  domain: DomainName;
  model?: string;
  models?: string[];
}

/** The notebook that runs each stage, named in refresh hints. */
export const STAGE_NOTEBOOKS: Record<StageName, string> = {
  preprocess: 'notebooks/01-preprocess.ipynb',
  sample: 'notebooks/02-sample.ipynb',
  query: 'notebooks/03-query.ipynb',
  score: 'notebooks/04-score.ipynb',
  plot: 'notebooks/05-plot.ipynb',
};

export function stampFile(config: Config, ref: StageRef): string {
  switch (ref.stage) {
    case 'preprocess':
      return path.join(domainDir(config, 'processed', ref.domain), '.stamp-preprocess.json');
    case 'sample':
      return path.join(domainDir(config, 'samples', ref.domain), '.stamp-sample.json');
    case 'query':
      if (!ref.model) throw new Error('a query stamp belongs to one model');
      return path.join(domainDir(config, 'responses', ref.model), `.stamp-query-${ref.domain}.json`);
    case 'score':
      return path.join(domainDir(config, 'scores'), `.stamp-score-${ref.domain}.json`);
    case 'plot':
      return path.join(domainDir(config, 'figures', ref.domain), '.stamp-plot.json');
  }
}

function label(ref: StageRef): string {
  return `${ref.stage} ${ref.domain}${ref.model ? ` ${ref.model}` : ''}`;
}

/** The command (and the notebook) that recomputes a stage. */
export function refreshCommand(config: Config, ref: StageRef): string {
  const models = ref.model ? ` --models ${ref.model}` : ref.models?.length ? ` --models ${ref.models.join(',')}` : '';
  const run = config.run ? ` --run ${config.run}` : '';
  return `npm start -- --stages ${ref.stage} --domains ${ref.domain}${models}${run} (or run ${STAGE_NOTEBOOKS[ref.stage]}${run ? ` with run = '${config.run}'` : ''})`;
}

/** What a stage reads of the configuration, per stage: the `config` part is what downstream notebooks take over. */
export function stageParams(config: Config, ref: StageRef): { config: Record<string, unknown>; model?: ModelConfig | null; models?: string[] } {
  const { domain } = ref;
  switch (ref.stage) {
    case 'preprocess':
      return { config: { preprocess: { [domain]: config.preprocess[domain] } } };
    case 'sample':
      // Target entropies are computed in score.logBase, so samples depend on it.
      return { config: { seed: config.seed, sample: { ...config.sample, settings: { [domain]: config.sample.settings[domain] } }, score: { logBase: config.score.logBase } } };
    case 'query': {
      const { models: _all, ...query } = config.query;
      return { config: { seed: config.seed, query }, model: config.query.models.find((m) => m.id === ref.model) ?? null };
    }
    case 'score':
      return { config: { score: config.score, curves: config.curves }, models: ref.models ?? [] };
    case 'plot':
      return { config: { figures: config.figures }, models: ref.models ?? [] };
  }
}

/** The stages a stage reads the outputs of. */
export function upstreamRefs(ref: StageRef): StageRef[] {
  const { domain } = ref;
  switch (ref.stage) {
    case 'preprocess':
      return [];
    case 'sample':
      return [{ stage: 'preprocess', domain }];
    case 'query':
      return [{ stage: 'sample', domain }];
    case 'score':
      return [{ stage: 'sample', domain }, ...(ref.models ?? []).map((model): StageRef => ({ stage: 'query', domain, model }))];
    case 'plot':
      return [{ stage: 'sample', domain }, { stage: 'score', domain, models: ref.models }];
  }
}

// ---------------------------------------------------------------- the stamp

export type StampStatus = 'done' | 'running' | 'failed' | 'pending';

export interface UpstreamRecord {
  stage: StageName;
  domain: DomainName;
  model?: string;
  models?: string[];
  /** File (relative to the upstream stamp's folder) → sha256, as read. */
  files: Record<string, string>;
}

export interface Stamp {
  v: number;
  stage: StageName;
  domain: DomainName;
  model?: string;
  status: StampStatus;
  /** Why the last run failed (status failed) or what it waits for (status pending). */
  detail?: string;
  code: string;
  params: ReturnType<typeof stageParams>;
  upstream: UpstreamRecord[];
  /** Inputs that are not stage outputs (raw dataset files), as fingerprints. */
  external?: unknown;
  /** Digest of code, params, upstream and external: what "up to date" compares. */
  inputs: string;
  /** File (relative to the stamp's folder) → sha256; the first is the stage's main output. */
  outputs: Record<string, string>;
  startedAt: string;
  finishedAt: string | null;
}

export const STAMP_VERSION = 2;

export function readStamp(file: string): Stamp | null {
  if (!fs.existsSync(file)) return null;
  try {
    const stamp = readJson<Stamp>(file);
    return stamp.v === STAMP_VERSION ? stamp : null;
  } catch {
    return null;
  }
}

/** The stamp's output files as absolute paths, in recorded order. */
export function stampOutputs(file: string, stamp: Stamp): string[] {
  return Object.keys(stamp.outputs).map((rel) => path.resolve(path.dirname(file), rel));
}

/** A stale, failed or missing input: which file, what it no longer matches, why, and how to refresh it. */
export interface StaleInput {
  ref: StageRef;
  file: string;
  against: string | null;
  reason: string;
  command: string;
}

export class StaleInputError extends Error {
  constructor(
    readonly consumer: StageRef | null,
    readonly stale: StaleInput,
  ) {
    super(
      `${consumer ? `${label(consumer)}: refusing to read stale input: ` : ''}${stale.reason}` +
        `${stale.against ? `\n  stale file: ${stale.file}\n  no longer matches: ${stale.against}` : `\n  file: ${stale.file}`}` +
        `\n  refresh it with: ${stale.command}`,
    );
    this.name = 'StaleInputError';
  }
}

function shortValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? '(unset)' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Why a stage's recorded output can no longer be used with this configuration, or null when it can: checked for the
 * stage itself and, recursively, for every stage it was computed from.
 */
export function staleness(config: Config, ref: StageRef): StaleInput | null {
  const file = stampFile(config, ref);
  const stamp = readStamp(file);
  const command = refreshCommand(config, ref);
  const where = path.dirname(file);
  if (!stamp) return { ref, file: where, against: null, reason: `${label(ref)} has not run (no stamp ${path.basename(file)} in ${where})`, command };
  if (stamp.status === 'running') return { ref, file: where, against: null, reason: `${label(ref)} did not finish (started ${stamp.startedAt}); its outputs in ${where} are not used`, command };
  if (stamp.status === 'failed') return { ref, file: where, against: null, reason: `${label(ref)} failed (${stamp.detail ?? 'no reason recorded'}); its old outputs in ${where} are not used`, command };
  if (stamp.status === 'pending') return { ref, file: where, against: null, reason: `${label(ref)} is waiting: ${stamp.detail ?? 'answers pending'}`, command };
  const outputs = stampOutputs(file, stamp);
  const main = outputs[0] ?? where;
  for (const [i, out] of outputs.entries()) {
    const recorded = Object.values(stamp.outputs)[i];
    if (!fs.existsSync(out)) return { ref, file: out, against: file, reason: `${out} is missing (written by ${label(ref)})`, command };
    if (fileDigest(out) !== recorded) return { ref, file: out, against: file, reason: `${out} was changed after ${label(ref)} wrote it (it no longer matches its stamp)`, command };
  }
  if (stamp.code !== codeVersion(ref.stage)) {
    return { ref, file: main, against: STAGE_CODE[ref.stage].map((f) => `lib/${f}`).join(', '), reason: `${main} was computed by another version of the code of the ${ref.stage} stage (lib/${STAGE_CODE[ref.stage].join(', lib/')})`, command };
  }
  const now = stageParams(config, ref);
  const changed = configChanges(stamp.params, now);
  if (changed.length) {
    const what = changed.slice(0, 3).map((c) => `${c.key.replace(/^config\./, '')}: ${shortValue(c.from)} then, ${shortValue(c.to)} now`).join('; ');
    return { ref, file: main, against: 'the configuration', reason: `${main} was computed with other parameters (${what})`, command };
  }
  for (const up of stamp.upstream) {
    const upRef: StageRef = { stage: up.stage, domain: up.domain, model: up.model, models: up.models };
    const upFile = stampFile(config, upRef);
    const upStamp = readStamp(upFile);
    for (const [rel, digest] of Object.entries(up.files)) {
      const current = upStamp?.status === 'done' ? upStamp.outputs[rel] : undefined;
      if (current !== digest) {
        const upOut = path.resolve(path.dirname(upFile), rel);
        return { ref, file: main, against: upOut, reason: `${main} was computed from ${upOut}, which ${current === undefined ? 'is no longer a finished output' : 'has changed since'}`, command };
      }
    }
    const deeper = staleness(config, upRef);
    if (deeper) return deeper;
  }
  return null;
}

function upstreamRecords(config: Config, ref: StageRef): UpstreamRecord[] {
  return upstreamRefs(ref).map((up) => {
    const stamp = readStamp(stampFile(config, up));
    return { ...up, files: stamp?.outputs ?? {} };
  });
}

/** Throws StaleInputError unless every input of the stage is a fresh, finished upstream output. */
export function requireFreshInputs(config: Config, ref: StageRef): void {
  for (const up of upstreamRefs(ref)) {
    const problem = staleness(config, up);
    if (problem) throw new StaleInputError(ref, problem);
  }
}

function inputsDigest(config: Config, ref: StageRef, external: unknown): { code: string; params: Stamp['params']; upstream: UpstreamRecord[]; inputs: string } {
  const code = codeVersion(ref.stage);
  const params = stageParams(config, ref);
  const upstream = upstreamRecords(config, ref);
  return { code, params, upstream, inputs: digestOf(code, params, upstream, external ?? null) };
}

/** Up to date: the stage's inputs are fresh and the same as last time, and its outputs are as it wrote them. */
export function isStageUpToDate(config: Config, ref: StageRef, external?: unknown): boolean {
  if (upstreamRefs(ref).some((up) => staleness(config, up))) return false;
  const stamp = readStamp(stampFile(config, ref));
  if (!stamp || stamp.status !== 'done') return false;
  if (stamp.inputs !== inputsDigest(config, ref, external).inputs) return false;
  return staleness(config, ref) === null;
}

export interface StageRun {
  stampFile: string;
  /**
   * Records the outputs (main output first) and marks the stage done. `external`, when given, replaces the external
   * inputs given at the start (an input the stage itself appends to, like the response store, as it is at the end).
   */
  finish(outputs: string[], external?: unknown): Stamp;
  /** Marks the stage failed (downstream stages refuse its old outputs and say why). */
  fail(error: unknown): void;
  /** Marks the stage as waiting (Batch API answers): downstream stages wait too. */
  pending(detail: string): void;
}

/**
 * Starts a stage: refuses stale inputs, then marks the stamp "running" before any output is touched, so a stage that
 * fails or is killed halfway never leaves old outputs looking valid.
 */
export function beginStage(config: Config, ref: StageRef, external?: unknown): StageRun {
  requireFreshInputs(config, ref);
  const file = stampFile(config, ref);
  const { code, params, upstream, inputs } = inputsDigest(config, ref, external);
  const base: Stamp = {
    v: STAMP_VERSION,
    stage: ref.stage,
    domain: ref.domain,
    model: ref.model,
    status: 'running',
    code,
    params,
    upstream,
    external,
    inputs,
    outputs: {},
    startedAt: new Date().toISOString(),
    finishedAt: null,
  };
  writeJsonAtomic(file, base);
  const dir = path.dirname(file);
  return {
    stampFile: file,
    finish(outputs, externalAtEnd) {
      const recorded = Object.fromEntries(outputs.filter((f) => fs.existsSync(f)).map((f) => [path.relative(dir, f).split(path.sep).join('/'), fileDigest(f)]));
      const ending = externalAtEnd === undefined ? {} : { external: externalAtEnd, inputs: inputsDigest(config, ref, externalAtEnd).inputs };
      const stamp: Stamp = { ...base, ...ending, status: 'done', outputs: recorded, finishedAt: new Date().toISOString() };
      writeJsonAtomic(file, stamp);
      return stamp;
    },
    fail(error) {
      writeJsonAtomic(file, { ...base, status: 'failed', detail: error instanceof Error ? error.message.split('\n')[0] : String(error), finishedAt: new Date().toISOString() });
    },
    pending(detail) {
      writeJsonAtomic(file, { ...base, status: 'pending', detail, finishedAt: new Date().toISOString() });
    },
  };
}
