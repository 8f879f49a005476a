// The whole MovieLens analysis with the offline baselines, from the raw files, as `npm start` runs it:
// the time of each stage and the total (target: under 25 s on a 2-core machine; 54 s when issue 24 was filed).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, pathsUnder, repoRoot } from '../lib/core/config';
import { runPipeline } from '../lib/pipeline';
import { OFFLINE_BASELINES } from './figures';
import { peakRssMb, timed, type BenchResult } from './common';

export async function run(): Promise<BenchResult[]> {
  const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
  if (!fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'))) {
    console.error('[bench] pipeline: no MovieLens copy (set UBP_DATA_DIR); skipped');
    return [];
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-bench-pipeline-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: mirror,
      download: false,
      paths: pathsUnder(dir),
    },
  });
  try {
    const cold = await timed(() =>
      runPipeline(config, { domains: ['movielens'], models: [...OFFLINE_BASELINES], log: () => {} }),
    );
    if (!cold.value.ok)
      throw new Error(`pipeline failed: ${JSON.stringify(cold.value.steps.filter((s) => s.status === 'failed'))}`);
    const perStage = new Map<string, number>();
    for (const s of cold.value.steps) perStage.set(s.stage, (perStage.get(s.stage) ?? 0) + s.seconds);
    const warm = await timed(() =>
      runPipeline(config, { domains: ['movielens'], models: [...OFFLINE_BASELINES], log: () => {} }),
    );
    const prompts = fs
      .readFileSync(path.join(dir, 'samples', 'movielens', 'samples.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean).length;
    return [
      ...[...perStage].map(([stage, seconds]) => ({
        stage: 'pipeline',
        name: `movielens ${stage}`,
        seconds,
        note: stage === 'query' ? `${OFFLINE_BASELINES.length} baselines × ${prompts} prompts` : undefined,
      })),
      {
        stage: 'pipeline',
        name: 'movielens whole analysis, cold',
        seconds: cold.seconds,
        peakRssMb: peakRssMb(),
        note: `${prompts} prompts, figures in ${config.figures.formats.join('/')}`,
        target: '< 25 s (54 s in issue 24)',
      },
      {
        stage: 'pipeline',
        name: 'movielens whole analysis, warm rerun',
        seconds: warm.seconds,
        note: `${warm.value.steps.filter((s) => s.status === 'up-to-date').length} steps up to date`,
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
