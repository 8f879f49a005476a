/**
 * Stage stamps, the stage-agnostic mechanism (each stage declares what it reads and writes in lib/<stage>/stage.ts;
 * this file never names a stage): every stage output folder holds a stamp saying what its files were computed from — the code version
 * of the stage, the part of the configuration it reads, and the digest of every upstream file — and the digest of
 * each file it wrote. From them:
 * - a stage is skipped when all of that is unchanged (a second `npm start` costs seconds and pays nothing twice);
 * - a stage refuses to read an upstream output that is stale (computed from other inputs, by other code, with another
 *   configuration, or changed since), failed, or never finished, and says which file, against what, and the command
 *   that refreshes it;
 * - a notebook reads the parameters an upstream stage ran with from its stamp instead of repeating them.
 * Files are recorded relative to the stamp's folder, so a copied or moved data folder is checked against its own files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config, DomainName, ModelConfig } from './config';
import { configChanges } from './config-diff';
import { digestOf, fileDigest } from './hash';
import type { OutputFile, StageParams, StageRef, StageSpec, StageSpecs } from './stage';

export type { OutputFile, StageParams, StageRef, StageSpec, StageSpecs } from './stage';
import { readJson, writeJsonAtomic } from './io';
import { redact } from './secrets';

function specOf(specs: StageSpecs, ref: StageRef): StageSpec {
  const spec = specs[ref.stage];
  if (!spec) throw new Error(`unknown stage "${ref.stage}" (stages: ${Object.keys(specs).join(', ')})`);
  return spec;
}

// ---------------------------------------------------------------- code versions

/**
 * The code version of a stage is a digest of the library files it runs (the compiled .js when running from build/,
 * the .ts sources under tsx), not the package version plus a format version: this repository's version number is not
 * bumped on every change, so only a digest makes *every* change to a stage's code — a fixed scoring rule, a new curve
 * fit — mark its old outputs stale without anyone remembering to bump anything. The price is an occasional re-run
 * after an edit that changes no number (a comment), which is the safe side.
 * Test hook: UBP_CODE_SALT="score=2,sample=x" mixes a salt into the named stages' versions, as an upgrade would.
 */
export function codeVersion(spec: Pick<StageSpec, 'name' | 'code'>): string {
  const salt = (process.env.UBP_CODE_SALT ?? '')
    .split(',')
    .map((s) => s.trim().split('='))
    .find(([name]) => name === spec.name)?.[1];
  const files = spec.code.map((folder) => folderCodeDigest(folder));
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

// ---------------------------------------------------------------- outputs as recorded in a stamp

/** The key of an output in its stamp: the path relative to the stamp's folder, with `#part` for a shared file's part. */
function outputKey(stampDir: string, out: OutputFile): string {
  const rel = path.relative(stampDir, out.file).split(path.sep).join('/');
  return out.part ? `${rel}#${out.part.name}` : rel;
}

const partDigests = new Map<string, string>();

/** The digest of a file, or of the part of it that belongs to one stamp. */
function outputDigest(out: OutputFile): string {
  if (!out.part) return fileDigest(out.file);
  const whole = fileDigest(out.file);
  const cacheKey = `${whole}\u0000${out.part.name}`;
  const cached = partDigests.get(cacheKey);
  if (cached) return cached;
  const digest = digestOf(out.part.select(readJson<unknown>(out.file)) ?? null);
  partDigests.set(cacheKey, digest);
  return digest;
}

// ---------------------------------------------------------------- the stamp

export type StampStatus = 'done' | 'running' | 'failed' | 'pending';

export interface UpstreamRecord {
  stage: string;
  domain: DomainName;
  model?: string;
  models?: string[];
  /** Output key (relative to the upstream stamp's folder) → sha256, as read. */
  files: Record<string, string>;
}

export interface Stamp {
  v: number;
  stage: string;
  domain: DomainName;
  model?: string;
  status: StampStatus;
  /** Why the last run failed (status failed) or what it waits for (status pending). */
  detail?: string;
  code: string;
  params: StageParams;
  upstream: UpstreamRecord[];
  /** Inputs that are not stage outputs (raw dataset files, the response store), as fingerprints. */
  external?: unknown;
  /** Digest of code, params, upstream and external: what "up to date" compares. */
  inputs: string;
  /** Output key → sha256; the first is the stage's main output. */
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

function label(ref: StageRef): string {
  return `${ref.stage} ${ref.domain}${ref.model ? ` ${ref.model}` : ''}`;
}

/** The command (and the notebook) that recomputes a stage. */
export function refreshCommand(specs: StageSpecs, config: Config, ref: StageRef): string {
  const models = ref.model ? ` --models ${ref.model}` : ref.models?.length ? ` --models ${ref.models.join(',')}` : '';
  const run = config.run ? ` --run ${config.run}` : '';
  const notebook = specOf(specs, ref).notebook;
  return `npm start -- --stages ${ref.stage} --domains ${ref.domain}${models}${run} (or run ${notebook}${run ? ` with run = '${config.run}'` : ''})`;
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

/** Why the recorded outputs no longer match the files on disk, or null. */
function outputProblem(
  specs: StageSpecs,
  config: Config,
  ref: StageRef,
  file: string,
  stamp: Stamp,
  command: string,
): StaleInput | null {
  const dir = path.dirname(file);
  const declared = new Map(
    specOf(specs, ref)
      .outputs(config, ref)
      .map((o) => [outputKey(dir, o), o]),
  );
  for (const [key, recorded] of Object.entries(stamp.outputs)) {
    const [rel] = key.split('#');
    const out: OutputFile = declared.get(key) ?? { file: path.resolve(dir, rel) };
    if (!fs.existsSync(out.file))
      return {
        ref,
        file: out.file,
        against: file,
        reason: `${out.file} is missing (written by ${label(ref)})`,
        command,
      };
    if (key.includes('#') && !declared.has(key)) {
      return {
        ref,
        file: out.file,
        against: file,
        reason: `${out.file} is recorded by part (${key}), which ${label(ref)} no longer declares`,
        command,
      };
    }
    if (outputDigest(out) !== recorded) {
      const which = out.part ? ` (its ${out.part.name} part)` : '';
      return {
        ref,
        file: out.file,
        against: file,
        reason: `${out.file}${which} was changed after ${label(ref)} wrote it (it no longer matches its stamp)`,
        command,
      };
    }
  }
  return null;
}

/**
 * Why a stage's recorded output can no longer be used with this configuration, or null when it can: checked for the
 * stage itself and, recursively, for every stage it was computed from.
 */
export function staleness(specs: StageSpecs, config: Config, ref: StageRef): StaleInput | null {
  const spec = specOf(specs, ref);
  const file = spec.stampFile(config, ref);
  const stamp = readStamp(file);
  const command = refreshCommand(specs, config, ref);
  const where = path.dirname(file);
  if (!stamp)
    return {
      ref,
      file: where,
      against: null,
      reason: `${label(ref)} has not run (no stamp ${path.basename(file)} in ${where})`,
      command,
    };
  if (stamp.status === 'running')
    return {
      ref,
      file: where,
      against: null,
      reason: `${label(ref)} did not finish (started ${stamp.startedAt}); its outputs in ${where} are not used`,
      command,
    };
  if (stamp.status === 'failed')
    return {
      ref,
      file: where,
      against: null,
      reason: `${label(ref)} failed (${stamp.detail ?? 'no reason recorded'}); its old outputs in ${where} are not used`,
      command,
    };
  if (stamp.status === 'pending')
    return {
      ref,
      file: where,
      against: null,
      reason: `${label(ref)} is waiting: ${stamp.detail ?? 'answers pending'}`,
      command,
    };
  const problem = outputProblem(specs, config, ref, file, stamp, command);
  if (problem) return problem;
  const main = path.resolve(where, (Object.keys(stamp.outputs)[0] ?? '.').split('#')[0]);
  if (stamp.code !== codeVersion(spec)) {
    return {
      ref,
      file: main,
      against: spec.code.map((f) => `lib/${f}`).join(', '),
      reason: `${main} was computed by another version of the code of the ${ref.stage} stage (lib/${spec.code.join(', lib/')})`,
      command,
    };
  }
  const changed = configChanges(stamp.params, spec.params(config, ref));
  if (changed.length) {
    const what = changed
      .slice(0, 3)
      .map((c) => `${c.key.replace(/^config\./, '')}: ${shortValue(c.from)} then, ${shortValue(c.to)} now`)
      .join('; ');
    return {
      ref,
      file: main,
      against: 'the configuration',
      reason: `${main} was computed with other parameters (${what})`,
      command,
    };
  }
  for (const up of stamp.upstream) {
    const upRef: StageRef = { stage: up.stage, domain: up.domain, model: up.model, models: up.models };
    const upFile = specOf(specs, upRef).stampFile(config, upRef);
    const upStamp = readStamp(upFile);
    for (const [key, digest] of Object.entries(up.files)) {
      const current = upStamp?.status === 'done' ? upStamp.outputs[key] : undefined;
      if (current !== digest) {
        const upOut = path.resolve(path.dirname(upFile), key.split('#')[0]);
        return {
          ref,
          file: main,
          against: upOut,
          reason: `${main} was computed from ${upOut}, which ${current === undefined ? 'is no longer a finished output' : 'has changed since'}`,
          command,
        };
      }
    }
    const deeper = staleness(specs, config, upRef);
    if (deeper) return deeper;
  }
  return null;
}

function upstreamRecords(specs: StageSpecs, config: Config, ref: StageRef): UpstreamRecord[] {
  return specOf(specs, ref)
    .upstream(ref)
    .map((up) => {
      const stamp = readStamp(specOf(specs, up).stampFile(config, up));
      return { ...up, files: stamp?.outputs ?? {} };
    });
}

/** Throws StaleInputError unless every input of the stage is a fresh, finished upstream output. */
export function requireFreshInputs(specs: StageSpecs, config: Config, ref: StageRef): void {
  for (const up of specOf(specs, ref).upstream(ref)) {
    const problem = staleness(specs, config, up);
    if (problem) throw new StaleInputError(ref, problem);
  }
}

function inputsDigest(
  specs: StageSpecs,
  config: Config,
  ref: StageRef,
  external: unknown,
): Pick<Stamp, 'code' | 'params' | 'upstream' | 'inputs'> {
  const spec = specOf(specs, ref);
  const code = codeVersion(spec);
  const params = spec.params(config, ref);
  const upstream = upstreamRecords(specs, config, ref);
  return { code, params, upstream, inputs: digestOf(code, params, upstream, external ?? null) };
}

/** Up to date: the stage's inputs are fresh and the same as last time, and its outputs are as it wrote them. */
export function isStageUpToDate(specs: StageSpecs, config: Config, ref: StageRef, external?: unknown): boolean {
  const spec = specOf(specs, ref);
  if (spec.upstream(ref).some((up) => staleness(specs, config, up))) return false;
  const stamp = readStamp(spec.stampFile(config, ref));
  if (!stamp || stamp.status !== 'done') return false;
  if (stamp.inputs !== inputsDigest(specs, config, ref, external).inputs) return false;
  return staleness(specs, config, ref) === null;
}

export interface StageRun {
  stampFile: string;
  /**
   * Records the declared outputs that exist plus `extra` files (main output first) and marks the stage done.
   * `external`, when given, replaces the external inputs given at the start (an input the stage itself appends to,
   * like the response store, as it is at the end).
   */
  finish(extra?: string[], external?: unknown): Stamp;
  /** Marks the stage failed (downstream stages refuse its old outputs and say why). */
  fail(error: unknown): void;
  /** Marks the stage as waiting (Batch API answers): downstream stages wait too. */
  pending(detail: string): void;
}

/** A failure's reason as a stamp records it: its first line, without any secret (stamps are files the tool writes). */
function reasonOf(error: unknown): string {
  return redact(error instanceof Error ? error.message.split('\n')[0] : String(error));
}

/**
 * Starts a stage: refuses stale inputs, then marks the stamp "running" before any output is touched, so a stage that
 * fails or is killed halfway never leaves old outputs looking valid.
 */
export function beginStage(specs: StageSpecs, config: Config, ref: StageRef, external?: unknown): StageRun {
  requireFreshInputs(specs, config, ref);
  const spec = specOf(specs, ref);
  const file = spec.stampFile(config, ref);
  const base: Stamp = {
    v: STAMP_VERSION,
    stage: ref.stage,
    domain: ref.domain,
    model: ref.model,
    status: 'running',
    ...inputsDigest(specs, config, ref, external),
    external,
    outputs: {},
    startedAt: new Date().toISOString(),
    finishedAt: null,
  };
  writeJsonAtomic(file, base);
  const dir = path.dirname(file);
  return {
    stampFile: file,
    finish(extra = [], externalAtEnd) {
      const declared = spec.outputs(config, ref);
      const extraFiles = extra
        .filter((f) => !declared.some((o) => !o.part && path.resolve(o.file) === path.resolve(f)))
        .map((f): OutputFile => ({ file: f }));
      const recorded = Object.fromEntries(
        [...declared, ...extraFiles]
          .filter((o) => fs.existsSync(o.file))
          .map((o) => [outputKey(dir, o), outputDigest(o)]),
      );
      const ending =
        externalAtEnd === undefined
          ? {}
          : { external: externalAtEnd, inputs: inputsDigest(specs, config, ref, externalAtEnd).inputs };
      const stamp: Stamp = {
        ...base,
        ...ending,
        status: 'done',
        outputs: recorded,
        finishedAt: new Date().toISOString(),
      };
      writeJsonAtomic(file, stamp);
      return stamp;
    },
    fail(error) {
      writeJsonAtomic(file, {
        ...base,
        status: 'failed',
        detail: reasonOf(error),
        finishedAt: new Date().toISOString(),
      });
    },
    pending(detail) {
      writeJsonAtomic(file, {
        ...base,
        status: 'pending',
        detail: redact(detail),
        finishedAt: new Date().toISOString(),
      });
    },
  };
}

/** Marks an existing stamp failed (a stage that failed before it could start, e.g. its raw data is unreadable). */
export function markStageFailed(specs: StageSpecs, config: Config, ref: StageRef, error: unknown): void {
  const file = specOf(specs, ref).stampFile(config, ref);
  const stamp = readStamp(file);
  if (stamp)
    writeJsonAtomic(file, {
      ...stamp,
      status: 'failed',
      detail: reasonOf(error),
      finishedAt: new Date().toISOString(),
    });
}
