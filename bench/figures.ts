/**
 * Benchmark of the plot stage: every MovieLens figure in every format. Uses the offline baselines' real scores when
 * the score stage has written them (data/scores/<model>/movielens.jsonl for all five baselines), else realistic
 * synthetic scores (5 models × ~5,000 prompts, the paper's Table 1 proportions) in a temp folder.
 * `synthesizeScores` is also the fixture generator of test/figures.test.ts and test/export.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BenchResult, peakRssMb, timed } from './common';
import { type Config, type DomainName, domainDir, loadConfig } from '../lib/core/config';
import { runPlot } from '../lib/plot/figures';
import { exportFigures, openRenderer } from '../lib/plot/export';
import { PAPER_TABLE1 } from '../lib/plot/table1-figure';
import { scoresFile } from '../lib/score/score';
import { writeJsonAtomic, writeJsonl } from '../lib/core/io';
import { deriveSeed, makeRng } from '../lib/core/rng';
import type { SampleCounts, ScoreRecord, Setup } from '../lib/core/types';

export const OFFLINE_BASELINES = ['random', 'popularity', 'group-popularity', 'item-cf', 'oracle'];

export interface SyntheticModel {
  id: string;
  /** Below this target entropy the cross-entropy turns up (bits); null: lies on X=Y (oracle). */
  turn: number | null;
  /** Constant excess over X=Y (random baseline ≈ large). */
  offset: number;
}

export const SYNTHETIC_MODELS: SyntheticModel[] = [
  { id: 'random', turn: 4.4, offset: 2.0 },
  { id: 'popularity', turn: 3.6, offset: 0.4 },
  { id: 'group-popularity', turn: 3.3, offset: 0.3 },
  { id: 'item-cf', turn: 2.9, offset: 0.2 },
  { id: 'oracle', turn: null, offset: 0 },
];

/**
 * Score records shaped like the score stage's, for the given Table 1 counts: setup C for h = 0, B for the "none"
 * setting with history, A otherwise; target entropy falls with history length (≤ log2 25); cross-entropy follows X=Y
 * above a model's turning point and rises quadratically below it. Seeded, so the same call gives the same records.
 */
export function synthesizeScores(
  domain: DomainName,
  counts: SampleCounts,
  models: SyntheticModel[],
  seed: string | number = 1,
): Record<string, ScoreRecord[]> {
  const prompts: { id: string; setup: Setup; proxy: string; h: number; te: number; groupSize: number }[] = [];
  const rng = makeRng(deriveSeed(seed, 'synthetic-prompts', domain));
  const maxEntropy = Math.log2(25);
  for (const [proxy, byH] of Object.entries(counts)) {
    for (const [hs, n] of Object.entries(byH)) {
      const h = Number(hs);
      for (let i = 0; i < n; i++) {
        const setup: Setup = h === 0 ? 'C' : proxy === 'none' ? 'B' : 'A';
        const centre = maxEntropy - 0.12 - 0.13 * h - (proxy === 'none' ? 0 : 0.15);
        const te = Math.min(maxEntropy, Math.max(0.8, centre + (rng() - 0.5) * 1.6));
        prompts.push({
          id: `${domain}-${proxy}-h${h}-${i}`,
          setup,
          proxy,
          h,
          te,
          groupSize: 3 + Math.floor(rng() * 400),
        });
      }
    }
  }
  const out: Record<string, ScoreRecord[]> = {};
  for (const m of models) {
    const r = makeRng(deriveSeed(seed, 'synthetic-model', m.id));
    out[m.id] = prompts.map((p) => {
      let ce = p.te;
      if (m.turn !== null) {
        const below = Math.max(0, m.turn - p.te);
        ce = p.te + m.offset * (0.3 + 0.2 * r()) + 0.9 * below * below + (r() - 0.5) * 0.4;
        ce = Math.max(p.te, ce);
      }
      return {
        v: 1,
        promptId: p.id,
        modelId: m.id,
        domain,
        setup: p.setup,
        proxy: p.proxy,
        historyLength: p.h,
        groupSize: p.groupSize,
        targetEntropy: p.te,
        crossEntropy: ce,
        smoothed: m.turn !== null && ce > p.te + 1,
        validPicks: 10,
        outsideCandidates: 0,
        duplicates: 0,
        zeroMassPositive: 0,
        jensenShannon: 0,
        totalVariation: 0,
      };
    });
  }
  return out;
}

/** Writes synthetic scores and Table 1 counts where runPlot reads them (for a config pointing at temp folders). */
export function writeSyntheticInputs(
  config: Config,
  domain: DomainName,
  scores: Record<string, ScoreRecord[]>,
  counts: SampleCounts,
): void {
  for (const [model, records] of Object.entries(scores)) writeJsonl(scoresFile(config, model, domain), records);
  writeJsonAtomic(path.join(domainDir(config, 'samples', domain), 'counts.json'), counts);
}

export async function run(): Promise<BenchResult[]> {
  const domain: DomainName = 'movielens';
  let config = loadConfig();
  const real = OFFLINE_BASELINES.every((m) => fs.existsSync(scoresFile(config, m, domain)));
  let tmp: string;
  if (!real) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-bench-figures-'));
    config = loadConfig({
      overrides: {
        paths: {
          scores: path.join(tmp, 'scores'),
          samples: path.join(tmp, 'samples'),
          figures: path.join(tmp, 'figures'),
        },
      },
    });
    const counts = PAPER_TABLE1[domain];
    writeSyntheticInputs(config, domain, synthesizeScores(domain, counts, SYNTHETIC_MODELS, config.seed), counts);
  } else {
    // Real scores, but the exported figures go to a temp folder so the benchmark never overwrites a run's output.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-bench-figures-'));
    config = loadConfig({ overrides: { paths: { figures: path.join(tmp, 'figures') } } });
  }
  const formats = ['html', 'svg', 'pdf', 'png'];
  const { value, seconds } = await timed(() =>
    runPlot(config, domain, OFFLINE_BASELINES, { formats, log: () => undefined }),
  );
  const note = `${value.figures.length} figures × ${formats.length - value.skipped.length} formats, ${real ? 'offline-baseline scores' : 'synthetic scores (5 models)'}${value.skipped.length ? `; skipped ${value.skipped.map((s) => s.format).join(', ')}` : ''}`;
  // The export alone (the figures already built): the browser's start (in the stage it overlaps the building of
  // the figures), then every figure in every format once the browser is up.
  const exportDir = path.join(tmp, 'export-only');
  const started = await timed(async () => {
    const opened = await openRenderer();
    if (opened.unavailable) throw new Error(opened.unavailable);
    return opened;
  });
  const exported = await timed(() =>
    exportFigures(value.figures, exportDir, formats, { opening: Promise.resolve(started.value) }),
  );
  fs.rmSync(tmp, { recursive: true, force: true });
  return [
    {
      stage: 'figures',
      name: 'movielens: plot stage (build + export)',
      seconds,
      peakRssMb: peakRssMb(),
      note: `${note}; 21 s in issue 24`,
    },
    {
      stage: 'figures',
      name: 'movielens: browser start (Plotly loaded)',
      seconds: started.seconds,
      note: 'overlaps the building of the figures in the stage; ~2.3 s more with the full Plotly bundle',
    },
    {
      stage: 'figures',
      name: 'movielens: export once the browser is up',
      seconds: exported.seconds,
      note: `${exported.value.files.length} files; ~1 figure/s in issue 24`,
      target: '< 6 s',
    },
  ];
}
