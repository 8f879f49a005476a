// The query stage's inputs (samples, items, rendered prompts) and where its outputs live.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  descriptionFileOf,
  domainDir,
  resolvePath,
  type Config,
  type DomainName,
  type ModelConfig,
} from '../core/config';
import { forEachLine, readJsonl } from '../core/io';
import type { ResponseRecord, SampleRecord } from '../core/types';
import { loadProcessed, PROCESSED_FILES, type ProcessedDomain } from '../data/processed';
import { loadSamples, samplesFile } from '../sample/sample';
import type { PromptJob } from './models';
import { promptTemplate, renderPrompt } from './prompt';
import { storeFileName } from './store';

export function resolveModels(config: Config, modelIds: string[]): ModelConfig[] {
  const known = config.query.models.map((m) => m.id);
  const unknown = modelIds.filter((id) => !known.includes(id));
  if (unknown.length) {
    throw new Error(
      `unknown model id${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}; configured models: ${known.join(', ')}`,
    );
  }
  return modelIds.map((id) => config.query.models.find((m) => m.id === id) as ModelConfig);
}

export interface QueryInputs {
  samples: SampleRecord[];
  data: ProcessedDomain;
  itemName: (id: string) => string;
  jobs: PromptJob[];
}

// The last inputs loaded per configuration and domain: the pipeline runs the query stage once per model, and reading
// and rendering 5,504 prompts again for each took ~0.25 s. Reused only while every file they come from is unchanged.
const loaded = new WeakMap<Config, Map<DomainName, { files: string; inputs: QueryInputs }>>();

/** Size, modification time and inode of each file ("-" when missing): a changed file changes it. */
function filesIdentity(files: string[]): string {
  return files
    .map((f) => {
      try {
        const st = fs.statSync(f);
        return `${f}:${st.size}:${st.mtimeMs}:${st.ino}`;
      } catch {
        return `${f}:-`;
      }
    })
    .join('|');
}

/**
 * Loads samples and processed items and renders every prompt (shared by all models of a run, and by the next model's
 * call while its files are unchanged; callers must not modify what it returns).
 */
export function loadQueryInputs(config: Config, domain: DomainName): QueryInputs {
  const processed = domainDir(config, 'processed', domain);
  const description = descriptionFileOf(config, domain);
  const files = `${filesIdentity([
    samplesFile(config, domain),
    ...PROCESSED_FILES.map((f) => path.join(processed, f)),
    ...(description ? [resolvePath(description)] : []),
  ])}|topN ${config.query.topN}`;
  let byDomain = loaded.get(config);
  if (!byDomain) loaded.set(config, (byDomain = new Map()));
  const hit = byDomain.get(domain);
  if (hit && hit.files === files) return hit.inputs;
  const inputs = readQueryInputs(config, domain);
  byDomain.set(domain, { files, inputs });
  return inputs;
}

function readQueryInputs(config: Config, domain: DomainName): QueryInputs {
  const samples = loadSamples(config, domain);
  const processedDir = domainDir(config, 'processed', domain);
  const data = loadProcessed(processedDir);
  const itemName = (id: string): string => {
    const i = data.itemIndex.get(id);
    if (i === undefined)
      throw new Error(
        `item id ${JSON.stringify(id)} of the samples is not in ${path.join(processedDir, 'items.jsonl')}: re-run the sample stage`,
      );
    return data.items[i].name;
  };
  const template = promptTemplate(config, domain);
  const jobs = samples.map((sample) => ({
    sample,
    messages: renderPrompt(sample, itemName, config, domain, template),
  }));
  return { samples, data, itemName, jobs };
}

/** data/responses/<model>/<domain>.jsonl, or <domain>.<method>.jsonl for an elicitation method of its own request. */
export function responsesFile(config: Config, modelId: string, domain: DomainName, method?: string): string {
  return path.join(domainDir(config, 'responses'), modelId, method ? `${domain}.${method}.jsonl` : `${domain}.jsonl`);
}

/**
 * Where a run keeps the answers it paid for and could not store (the store broke mid-run): next to the model's
 * responses, in a folder of its own so no domain's responses file can be mistaken for it. The next run of the model
 * on the domain puts them into the store before it sends anything (lib/query/recover.ts).
 */
export function recoveryFile(config: Config, modelId: string, domain: DomainName): string {
  return path.join(domainDir(config, 'responses'), modelId, 'recovered', `${domain}.jsonl`);
}

export function storeDir(config: Config): string {
  return domainDir(config, 'store');
}

/** Lines of a JSONL file (0 when it does not exist), without parsing them. */
export function countRecords(file: string): number {
  if (!fs.existsSync(file)) return 0;
  let n = 0;
  forEachLine(file, (line) => {
    if (line.trim() !== '') n++;
  });
  return n;
}

/** "size:mtime" of a model's store file ("none" for baselines and before the first answer): cheap to take at every run. */
export function storeIdentity(config: Config, model: ModelConfig): string {
  if (model.provider === 'baseline') return 'none';
  try {
    const st = fs.statSync(storeFile(config, model));
    return `${st.size}:${Math.round(st.mtimeMs)}`;
  } catch {
    return 'none';
  }
}

/** The store file of a model: provider + model, shared by every model id that names the same one. */
export function storeFile(config: Config, model: Pick<ModelConfig, 'provider' | 'model'>): string {
  return path.join(storeDir(config), storeFileName(model.provider, model.model));
}

/** Reads data/responses/<model>/<domain>.jsonl. */
export function loadResponses(config: Config, modelId: string, domain: DomainName): ResponseRecord[] {
  const file = responsesFile(config, modelId, domain);
  if (!fs.existsSync(file)) {
    throw new Error(
      `no responses of model "${modelId}" for ${domain}: ${file} is missing; run the query stage (npm start -- --stages query --models ${modelId} --domains ${domain})`,
    );
  }
  return readJsonl<ResponseRecord>(file, (r, where) => {
    const rec = r as ResponseRecord;
    if (typeof rec?.promptId !== 'string') throw new Error(`${where}: field "promptId" must be a string`);
    if (typeof rec.raw !== 'string') throw new Error(`${where}: field "raw" must be a string`);
    if (!Array.isArray(rec.ranked)) throw new Error(`${where}: field "ranked" must be an array of candidate ids`);
    return rec;
  }).records;
}
