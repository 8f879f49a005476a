/**
 * Where the score stage's files live and how they are read back: the per-prompt scores, the paired comparisons and the
 * power table (the summary is read in score.ts, next to its types).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, domainDir } from '../core/config';
import { readJson, readJsonl } from '../core/io';
import type { ScoreRecord, Setup } from '../core/types';
import { type Comparisons, comparisonsFile, readComparisons } from './compare';
import type { PowerRow } from './power';

export const SETUPS: readonly Setup[] = ['A', 'B', 'C'];

export function scoresFile(config: Config, modelId: string, domain: DomainName): string {
  return path.join(domainDir(config, 'scores', modelId), `${domain}.jsonl`);
}

export function scoreSummaryFile(config: Config): string {
  return path.join(domainDir(config, 'scores'), 'summary.json');
}

const SCORE_NUMBER_FIELDS = [
  'historyLength',
  'groupSize',
  'targetEntropy',
  'crossEntropy',
  'validPicks',
  'outsideCandidates',
  'duplicates',
  'zeroMassPositive',
  'jensenShannon',
  'totalVariation',
] as const;

function validateScore(r: unknown, where: string): ScoreRecord {
  if (typeof r !== 'object' || r === null || Array.isArray(r))
    throw new Error(`${where}: expected a JSON object (a score record)`);
  const s = r as Record<string, unknown>;
  if (typeof s.promptId !== 'string') throw new Error(`${where}: field "promptId" must be a string`);
  if (s.setup !== 'A' && s.setup !== 'B' && s.setup !== 'C')
    throw new Error(`${where}: field "setup" must be "A", "B" or "C"`);
  for (const f of SCORE_NUMBER_FIELDS) {
    if (typeof s[f] !== 'number' || !Number.isFinite(s[f]))
      throw new Error(`${where}: field "${f}" must be a finite number`);
  }
  if (typeof s.smoothed !== 'boolean') throw new Error(`${where}: field "smoothed" must be true or false`);
  return s as unknown as ScoreRecord;
}

/** Reads data/scores/<model>/<domain>.jsonl. */
export function loadScores(config: Config, modelId: string, domain: DomainName): ScoreRecord[] {
  const file = scoresFile(config, modelId, domain);
  if (!fs.existsSync(file))
    throw new Error(
      `no scores of model "${modelId}" for ${domain}: ${file} is missing; run the score stage first (npm start -- --stages score)`,
    );
  const { records, tornLastLine } = readJsonl<ScoreRecord>(file, validateScore);
  if (tornLastLine)
    throw new Error(
      `${file}: the last line is cut off (the file is written atomically, so it was damaged); run the score stage again`,
    );
  return records;
}

export function scoreComparisonsFile(config: Config): string {
  return comparisonsFile(domainDir(config, 'scores'));
}

/** Reads data/scores/comparisons.json (see lib/score/compare.ts). */
export function loadComparisons(config: Config): Comparisons {
  const file = scoreComparisonsFile(config);
  const c = readComparisons(file);
  if (!c)
    throw new Error(
      `no model comparisons: ${file} is missing; run the score stage first (npm start -- --stages score)`,
    );
  return c;
}

export const POWER_VERSION = 2;
export interface PowerFile {
  v: number;
  power: ({ domain: DomainName; setup: Setup } & PowerRow)[];
}

export function scorePowerFile(config: Config): string {
  return path.join(domainDir(config, 'scores'), 'power.json');
}

/** Reads data/scores/power.json (see lib/score/power.ts). */
export function loadPower(config: Config): PowerFile {
  const file = scorePowerFile(config);
  if (!fs.existsSync(file))
    throw new Error(
      `no power table: ${file} is missing; run the score stage with the oracle and random baselines (npm start -- --stages score)`,
    );
  const p = readJson<PowerFile>(file);
  if (p?.v !== POWER_VERSION || !Array.isArray(p.power))
    throw new Error(`${file}: not a power table of version ${POWER_VERSION}; run the score stage again`);
  return p;
}
