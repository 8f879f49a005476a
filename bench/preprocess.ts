/**
 * Preprocess benchmarks: MovieLens-1M from the local mirror, Last.fm on a generated full-size events file
 * (19 M events, ~2.4 GB, ~1000 users, ~1 M distinct tracks) and Last.fm-360K on generated full-size files
 * (17.6 M rows, 359,347 users), cached under .bench-cache/ and generated once.
 * Each case runs in a fresh child process so its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchResult } from './common';
import { peakRssMb } from './common';
import { loadConfig, repoRoot, pathsUnder } from '../lib/core/config';
import { generateSynthetic, type SyntheticOptions } from '../lib/data/synthetic';
import { FULL_LASTFM_360K } from '../lib/data/synthetic-360k';

/** The size of the real Last.fm-1K events file: 19,150,868 events of 992 users. */
export const FULL_LASTFM: Omit<SyntheticOptions, 'onProgress'> = {
  domain: 'lastfm',
  users: 992,
  items: 1_000_000,
  interactions: 19_150_868,
  artists: 170_000,
  seed: 'bench-lastfm-full',
};

function mirrorDir(): string | null {
  const candidates = [process.env.UBP_DATA_DIR, path.resolve(repoRoot(), '..', 'shared', 'datasets')].filter(
    (d): d is string => !!d,
  );
  return candidates.find((d) => fs.existsSync(path.join(d, 'ml-1m', 'users.dat'))) ?? null;
}

/** Generates a full-size synthetic dataset once under .bench-cache/<name>; later runs reuse it while the parameters are unchanged. */
export function ensureGenerated(
  name: string,
  params: Omit<SyntheticOptions, 'onProgress'>,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): string {
  const dir = path.join(repoRoot(), '.bench-cache', name);
  const stamp = path.join(dir, 'params.json');
  const want = JSON.stringify(params);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  log(`[bench] generating a full-size ${params.domain} dataset in ${dir} (once) ...`);
  const t0 = Date.now();
  let last = 0;
  generateSynthetic(dir, {
    ...params,
    onProgress: (n, total) => {
      if (Date.now() - last > 5000) {
        last = Date.now();
        log(`[bench]   ${n}/${total} rows (${((100 * n) / total).toFixed(0)}%)`);
      }
    },
  });
  fs.writeFileSync(stamp, want);
  log(`[bench] generated in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return dir;
}

/** The full-size Last.fm-1K events file (about 2.4 GB). */
export function ensureFullLastfm(log?: (s: string) => void): string {
  return ensureGenerated('lastfm-full', FULL_LASTFM, log);
}

/** The full-size Last.fm-360K files (17.6 M rows). */
export function ensureFullLastfm360k(log?: (s: string) => void): string {
  return ensureGenerated('lastfm-360k-full', FULL_LASTFM_360K, log);
}

const LASTFM_360K_DESCRIPTION = path.join(repoRoot(), 'datasets', 'lastfm-360k.json');

interface ChildResult {
  importSeconds: number;
  seconds: number;
  /** CPU time of the process (all threads) during runPreprocess: a figure less sensitive to a busy machine. */
  cpuSeconds: number;
  peakRssMb: number;
  summary: { users: number; items: number; interactions: number };
}

function runChild(domain: string, dataDir: string): ChildResult {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-bench-'));
  try {
    const res = spawnSync(process.execPath, [__filename, '--child', domain, dataDir, out], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
    if (res.status !== 0) throw new Error(`bench child for ${domain} failed with exit code ${res.status}`);
    return JSON.parse(res.stdout.trim().split('\n').pop()!) as ChildResult;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const mirror = mirrorDir();
  if (mirror) {
    const r = runChild('movielens', mirror);
    results.push({
      stage: 'preprocess',
      name: 'movielens (mirror, 1,000,209 ratings)',
      seconds: r.seconds,
      peakRssMb: r.peakRssMb,
      note: `${r.summary.users} users, ${r.summary.items} items; CPU ${r.cpuSeconds.toFixed(2)} s; + ${r.importSeconds.toFixed(2)} s one-time danfojs-node import (not counted)`,
      target: '< 0.75 s',
    });
  } else
    process.stderr.write(
      '[bench] no MovieLens mirror found (../shared/datasets or UBP_DATA_DIR): skipping the MovieLens case\n',
    );
  const lastfmDir = ensureFullLastfm();
  const size = fs.statSync(path.join(lastfmDir, 'lastfm-1k', 'userid-timestamp-artid-artname-traid-traname.tsv')).size;
  const r = runChild('lastfm', lastfmDir);
  results.push({
    stage: 'preprocess',
    name: `lastfm (generated, ${(FULL_LASTFM.interactions / 1e6).toFixed(1)} M events, ${(size / 1e9).toFixed(2)} GB)`,
    seconds: r.seconds,
    peakRssMb: r.peakRssMb,
    note: `${r.summary.users} users, ${r.summary.items} items, ${r.summary.interactions} pairs; CPU ${r.cpuSeconds.toFixed(1)} s on ${os.cpus().length} cores (load ${os.loadavg()[0].toFixed(1)}); + ${r.importSeconds.toFixed(2)} s danfojs-node import (not counted)`,
    target: '< 10 s, < 1024 MB',
  });
  const dir360 = ensureFullLastfm360k();
  const size360 = fs.statSync(path.join(dir360, 'lastfm-360k', 'usersha1-artmbid-artname-plays.tsv')).size;
  const r360 = runChild('lastfm-360k', dir360);
  results.push({
    stage: 'preprocess',
    name: `lastfm-360k (generated, ${(FULL_LASTFM_360K.interactions / 1e6).toFixed(1)} M rows, ${(size360 / 1e9).toFixed(2)} GB, generic path)`,
    seconds: r360.seconds,
    peakRssMb: r360.peakRssMb,
    note: `${r360.summary.users} users, ${r360.summary.items} items, ${r360.summary.interactions} pairs; CPU ${r360.cpuSeconds.toFixed(1)} s (load ${os.loadavg()[0].toFixed(1)})`,
    target: '< 15 s, < 1536 MB',
  });
  return results;
}

/** Child: times runPreprocess for one domain; danfojs-node is loaded first and timed apart. */
async function child(domain: string, dataDir: string, out: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  require('danfojs-node');
  const importSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const { runPreprocess } = await import('../lib/data/preprocess');
  const config = loadConfig({
    overrides: { dataDir, download: false, paths: pathsUnder(out) },
    env: {},
    datasets: domain === 'lastfm-360k' ? [LASTFM_360K_DESCRIPTION] : [],
  });
  const t1 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const summary = await runPreprocess(config, domain, { log: (s) => process.stderr.write(`  ${s}\n`) });
  const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  // Worker threads share the process, so maxRSS covers them too.
  process.stdout.write(`${JSON.stringify({ importSeconds, seconds, cpuSeconds, peakRssMb: peakRssMb(), summary })}\n`);
}

if (require.main === module && process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], process.argv[5]).catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
