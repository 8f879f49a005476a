/**
 * The sample stage's files: runSample writes samples.jsonl, counts.json (our Table 1) and stops.json of a domain;
 * the loaders read them back, validating each record and naming the file and line of anything wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { domainDir, type Config, type DomainName } from '../core/config';
import { readJsonl, writeJsonAtomic, writeJsonl } from '../core/io';
import { loadProcessed } from '../data/processed';
import type { SampleCounts, SampleRecord } from '../core/types';
import { sampleDomain, type SampleOptions, type SampleResult } from './algorithm';
import { candidateOrdersOf, withCandidateOrders } from './orders';

export const SAMPLES_FILE = 'samples.jsonl';
export const SAMPLE_COUNTS_FILE = 'counts.json';
export const SAMPLE_STOPS_FILE = 'stops.json';
export function samplesFile(config: Config, domain: DomainName): string {
  return path.join(domainDir(config, 'samples', domain), SAMPLES_FILE);
}

/** Loads processed data, samples it, and writes samples.jsonl, counts.json and stops.json atomically. */
export function runSample(config: Config, domain: DomainName, opts: SampleOptions = {}): SampleResult {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const data = loadProcessed(domainDir(config, 'processed', domain));
  if (data.domain !== domain)
    throw new Error(`sample: ${domainDir(config, 'processed', domain)} holds ${data.domain} data, not ${domain}`);
  const orders = candidateOrdersOf(config);
  const drawn = sampleDomain(data, config, { log });
  const result = { ...drawn, samples: withCandidateOrders(drawn.samples, config) };
  const dir = domainDir(config, 'samples', domain);
  writeJsonl(path.join(dir, SAMPLES_FILE), result.samples);
  writeJsonAtomic(path.join(dir, SAMPLE_STOPS_FILE), result.stops);
  writeJsonAtomic(path.join(dir, SAMPLE_COUNTS_FILE), result.counts);
  log(
    `sample ${domain}: ${result.samples.length} prompts${orders > 1 ? ` (${drawn.samples.length} samples × ${orders} candidate orders)` : ''} → ${dir}`,
  );
  return result;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function validateSample(r: unknown, where: string): SampleRecord {
  const bad = (field: string, expected: string): never => {
    throw new Error(`${where}: field "${field}" ${expected}`);
  };
  if (typeof r !== 'object' || r === null || Array.isArray(r))
    throw new Error(`${where}: expected a JSON object (a sample record)`);
  const s = r as Record<string, unknown>;
  if (typeof s.v !== 'number') bad('v', 'must be the format version (a number)');
  if (typeof s.id !== 'string' || s.id === '') bad('id', 'must be a non-empty string');
  if (typeof s.domain !== 'string' || s.domain === '') bad('domain', 'must be the domain name (a non-empty string)');
  if (s.setup !== 'A' && s.setup !== 'B' && s.setup !== 'C') bad('setup', 'must be "A", "B" or "C"');
  if (typeof s.proxy !== 'string') bad('proxy', 'must be the setting name (a string)');
  const demo = s.demography;
  if (
    typeof demo !== 'object' ||
    demo === null ||
    Array.isArray(demo) ||
    !Object.values(demo).every((x) => typeof x === 'string')
  ) {
    bad('demography', 'must be an object of proxy name → string value');
  }
  if (!isStringArray(s.history)) bad('history', 'must be an array of item ids (strings)');
  if (!isStringArray(s.candidates) || s.candidates.length === 0)
    bad('candidates', 'must be a non-empty array of item ids (strings)');
  const target = s.target;
  if (!Array.isArray(target) || !target.every((x) => typeof x === 'number' && x >= 0))
    bad('target', 'must be an array of probabilities');
  if ((target as number[]).length !== (s.candidates as string[]).length) {
    bad(
      'target',
      `must have one probability per candidate (${(s.candidates as string[]).length}), got ${(target as number[]).length}`,
    );
  }
  if (typeof s.targetEntropy !== 'number') bad('targetEntropy', 'must be a number');
  if (!(Number.isInteger(s.groupSize) && (s.groupSize as number) >= 0)) bad('groupSize', 'must be a whole number');
  if (typeof s.drawId !== 'string') bad('drawId', 'must be a string');
  if (typeof s.seed !== 'string') bad('seed', 'must be a string');
  if (s.order !== undefined && !(Number.isInteger(s.order) && (s.order as number) >= 2))
    bad('order', 'must be a whole number >= 2 when present (order 1 has no field)');
  return s as unknown as SampleRecord;
}

/** Reads data/samples/<domain>/samples.jsonl; errors name file and line, and say to run the sample stage when missing. */
export function loadSamples(config: Config, domain: DomainName): SampleRecord[] {
  const file = samplesFile(config, domain);
  if (!fs.existsSync(file)) {
    throw new Error(
      `no samples for ${domain}: ${file} is missing; run the sample stage first (npm start -- --stages sample)`,
    );
  }
  const { records, tornLastLine } = readJsonl<SampleRecord>(file, validateSample);
  if (tornLastLine) {
    const lines = fs.readFileSync(file, 'utf8').split('\n').length;
    throw new Error(
      `${file}:${lines}: the last line is cut off (the file is written atomically, so it was damaged); run the sample stage again`,
    );
  }
  return records;
}
