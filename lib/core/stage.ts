/**
 * What a stage is, as one declared object: the stamp half (StageSpec: name, notebook, code folders, stamp file,
 * upstream stages, parameters, output files) and the run half. Each stage declares itself in lib/<folder>/stage.ts;
 * lib/stages.ts lists them and runs any of them the same way (up-to-date check, stamp, outcome), so adding a parameter
 * or an output file to a stage is a change in that one file.
 */
import type { Config, DomainName, ModelConfig } from './config';

/** One stage for one domain (query: for one model; score and plot: over a list of models). */
export interface StageRef {
  stage: string;
  domain: DomainName;
  model?: string;
  models?: string[];
}

/**
 * A file a stage writes. `part` marks a file that several stamps share (the score summary holds every domain): only
 * the selected part of its JSON belongs to this stamp, so another domain's rewrite does not make this one stale.
 */
export interface OutputFile {
  file: string;
  part?: { name: string; select: (json: unknown) => unknown };
}

/** What a stage reads of the configuration: the `config` part is what downstream notebooks take over. */
export interface StageParams {
  config: Record<string, unknown>;
  model?: ModelConfig | null;
  models?: string[];
  description?: unknown;
}

/** The declarative half of a stage definition: everything the stamps need, nothing that computes. */
export interface StageSpec {
  name: string;
  /** The notebook that runs the stage, named in refresh hints. */
  notebook: string;
  /** The lib folders whose code decides the stage's output (test/architecture.test.ts checks them against imports). */
  code: readonly string[];
  stampFile(config: Config, ref: StageRef): string;
  /** The stages whose outputs this one reads. */
  upstream(ref: StageRef): StageRef[];
  params(config: Config, ref: StageRef): StageParams;
  /** Every file the stage writes that has a fixed name, main output first (a run may add more, e.g. exported figures). */
  outputs(config: Config, ref: StageRef): OutputFile[];
}

/** The stages of the pipeline by name: the mechanism below looks every stage up here. */
export type StageSpecs = Readonly<Record<string, StageSpec>>;

/** How a stage call ended. `up-to-date`: nothing was recomputed (the runner's verdict, never a stage's own). */
export type StageOutcome<R> =
  | { status: 'done'; result: R; detail: string }
  | { status: 'up-to-date'; result?: undefined; detail: string }
  | { status: 'pending'; result: R; detail: string }
  | { status: 'failed'; result?: R; detail: string };

/** What a stage's `run` returns; the runner turns it into the stamp. */
export type StageRunResult<R> =
  | {
      status: 'done';
      result: R;
      detail: string;
      /** Files written beyond the declared outputs (exported figures), recorded in the stamp after them. */
      files?: string[];
      /** The external inputs as they are at the end (the response store the stage appended to). */
      external?: unknown;
    }
  | { status: 'pending' | 'failed'; result: R; detail: string };

export interface StageContext<O> {
  config: Config;
  ref: StageRef;
  opts: O;
  /** The stage's code version, for outputs that record it. */
  code: string;
  log: (line: string) => void;
}

export interface StageDefinition<O, R> extends StageSpec {
  /**
   * Inputs that are not outputs of another stage (raw dataset files, the response store), fingerprinted, and the
   * options completed with what was found (the located dataset). Throwing here marks the stage's old outputs failed:
   * they no longer match what is there.
   */
  prepare?(
    config: Config,
    ref: StageRef,
    opts: O,
    log: (line: string) => void,
  ): Promise<{ external: unknown; opts: O }>;
  /** Whether this call makes the stage's output (a dry run or a pilot does not: it leaves the stamp alone). */
  makesOutput?(opts: O): boolean;
  run(ctx: StageContext<O>): Promise<StageRunResult<R>>;
}
