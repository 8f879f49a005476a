// Sampling benchmark: every setting of MovieLens (the mirror, preprocessed once into .bench-cache/), default config,
// and every setting of a generated full-size Last.fm-360K (359,347 users, 17.6 M rows; bench/preprocess.ts makes it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { domainDir, loadConfig, repoRoot, pathsUnder } from '../lib/core/config';
import { loadProcessed } from '../lib/data/processed';
import { sampleDomain } from '../lib/sample/algorithm';
import { peakRssMb, timed, type BenchResult } from './common';
import { ensureFullLastfm360k } from './preprocess';

function mirrorDir(): string | null {
  const dir = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
  return fs.existsSync(path.join(dir, 'ml-1m', 'users.dat')) ? dir : null;
}

export async function run(): Promise<BenchResult[]> {
  const mirror = mirrorDir();
  if (!mirror) {
    console.error('[bench] sample: no MovieLens mirror (set UBP_DATA_DIR); skipped');
    return [];
  }
  const cache = path.join(repoRoot(), '.bench-cache', 'sample');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: mirror,
      download: false,
      paths: pathsUnder(cache),
    },
  });
  const processed = domainDir(config, 'processed', 'movielens');
  if (!fs.existsSync(path.join(processed, 'summary.json'))) {
    // Preprocessing is another stage's benchmark; here it only fills the cache once.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runPreprocess } = require('../lib/data/preprocess') as {
      runPreprocess: (c: typeof config, d: 'movielens', o?: unknown) => unknown;
    };
    await runPreprocess(config, 'movielens', { log: () => {} });
  }
  const results = await runMovielens(config, processed);
  results.push(...(await runLastfm360k()));
  return results;
}

async function runMovielens(config: ReturnType<typeof loadConfig>, processed: string): Promise<BenchResult[]> {
  const load = await timed(() => loadProcessed(processed));
  const sample = await timed(() => sampleDomain(load.value, config));
  const prompts = sample.value.samples.length;
  const settings = Object.keys(config.sample.settings.movielens).length;
  return [
    {
      stage: 'sample',
      name: 'movielens: load processed data',
      seconds: load.seconds,
      note: `${load.value.users.length} users, ${load.value.items.length} items`,
    },
    {
      stage: 'sample',
      name: `movielens: all ${settings} settings × ${config.sample.drawsPerSetting} draws`,
      seconds: sample.seconds,
      peakRssMb: peakRssMb(),
      note: `${prompts} prompts, ${(prompts / sample.seconds).toFixed(0)} prompts/s`,
      target: '< 10 s',
    },
  ];
}

async function runLastfm360k(): Promise<BenchResult[]> {
  const data = ensureFullLastfm360k();
  const cache = path.join(repoRoot(), '.bench-cache', 'sample-360k');
  const config = loadConfig({
    env: {},
    datasets: [path.join(repoRoot(), 'datasets', 'lastfm-360k.json')],
    overrides: { dataDir: data, download: false, paths: pathsUnder(cache) },
  });
  const processed = domainDir(config, 'processed', 'lastfm-360k');
  const stamp = path.join(cache, 'source.json');
  const source = JSON.stringify(
    fs.statSync(path.join(data, 'lastfm-360k', 'usersha1-artmbid-artname-plays.tsv')).mtimeMs,
  );
  if (
    !fs.existsSync(path.join(processed, 'summary.json')) ||
    !fs.existsSync(stamp) ||
    fs.readFileSync(stamp, 'utf8') !== source
  ) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runPreprocess } = require('../lib/data/preprocess') as typeof import('../lib/data/preprocess');
    await runPreprocess(config, 'lastfm-360k', { log: () => {} });
    fs.writeFileSync(stamp, source);
  }
  const load = await timed(() => loadProcessed(processed));
  const sample = await timed(() => sampleDomain(load.value, config));
  const prompts = sample.value.samples.length;
  const settings = Object.keys(config.sample.settings['lastfm-360k']).length;
  return [
    {
      stage: 'sample',
      name: 'lastfm-360k (generated full size): load processed data',
      seconds: load.seconds,
      note: `${load.value.users.length} users, ${load.value.items.length} items`,
    },
    {
      stage: 'sample',
      name: `lastfm-360k: all ${settings} settings × ${config.sample.drawsPerSetting} draws`,
      seconds: sample.seconds,
      peakRssMb: peakRssMb(),
      note: `${prompts} prompts, ${(prompts / sample.seconds).toFixed(0)} prompts/s`,
      target: '< 60 s',
    },
  ];
}
