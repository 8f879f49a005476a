/**
 * The elicitation methods that are requests of their own (issue 22): `stated` asks the model for a probability per
 * candidate, answered as JSON; `logprobs` asks for the number of its first pick and reads the first token's top
 * logprobs over the candidates' numbers. Both prompts are built from the paper's sentences (the same introduction,
 * demography and history as the ranking prompt), so only the request and the answer's form differ. `ranking` and
 * `samples` are the paper's prompt itself (lib/query/prompt.ts, lib/query/repeats.ts).
 */
import { type Config, ConfigError, type DomainName, type ModelConfig } from '../core/config';
import type { SampleRecord } from '../core/types';
import type { ChatMessage, PromptJob } from './models';
import { type DomainPromptTemplate, promptParagraphs, promptTemplate } from './prompt';
import type { GenerationParams } from './store';
import { candidateLabel } from './known-distribution';
import { asksInOneRequest, requestRepeat } from './repeats';
import { modelFamily } from './families';

/** The methods asked with a prompt of their own, one request per prompt. */
export const OWN_REQUEST_METHODS = ['stated', 'logprobs'] as const;
export type ElicitMethod = (typeof OWN_REQUEST_METHODS)[number];

/** Offline baselines that hold a distribution to state or to give logprobs of. */
const DISTRIBUTION_BASELINES = new Set(['known-distribution']);

/**
 * The configured methods that are requests of their own, in a fixed order; for a given model, those it is asked. An
 * offline baseline without a distribution (oracle, popularity, …) is a comparator that answers the ranking prompt
 * only: there is nothing of its own to measure, so it is not asked, and a run can set models beside it.
 */
export function elicitMethodsOf(
  config: Config,
  model?: Pick<ModelConfig, 'provider' | 'model'> | null,
): ElicitMethod[] {
  const listed = config.query.elicitation ?? ['ranking'];
  if (model && model.provider === 'baseline' && !DISTRIBUTION_BASELINES.has(model.model)) return [];
  return OWN_REQUEST_METHODS.filter((m) => listed.includes(m));
}

const STATED_RULES = [
  'AI Rules',
  '',
  '- Output response as a JSON object only.',
  '- Do not output any extra text.',
  '- Do not wrap the response in code markers.',
  "- Use every candidate's id exactly once as a key, in double-quotes.",
].join('\n');

const LOGPROBS_RULES = [
  'AI Rules',
  '',
  '- Output the number of one candidate only.',
  '- Do not output any extra text.',
].join('\n');

/** The messages of a `stated` or `logprobs` prompt for a sample. */
export function renderElicitPrompt(
  method: ElicitMethod,
  sample: SampleRecord,
  itemName: (id: string) => string,
  config: Config,
  domain: DomainName,
  template: DomainPromptTemplate,
): ChatMessage[] {
  const context = promptParagraphs(sample, itemName, domain, template);
  const w = template.elicit;
  const paragraphs =
    method === 'stated'
      ? [
          ...context,
          w.statedRequest,
          w.statedFormat,
          `Candidates (id: name):\n${sample.candidates.map((id) => `${JSON.stringify(id)}: ${JSON.stringify(itemName(id))}`).join('\n')}`,
        ]
      : [
          ...context,
          w.logprobsRequest,
          'Answer with the number of the candidate only.',
          `Candidates:\n${sample.candidates.map((id, i) => `${candidateLabel(i)}. ${itemName(id)}`).join('\n')}`,
        ];
  return [
    { role: 'system', content: method === 'stated' ? STATED_RULES : LOGPROBS_RULES },
    { role: 'user', content: paragraphs.join(template.paragraphSeparator) },
  ];
}

/** The top-k a `logprobs` request asks for: the configured one, capped by what the model's entry says it allows. */
export function topLogprobsFor(config: Config, model: ModelConfig): number {
  const cap = model.capabilities?.topLogprobs;
  return cap !== undefined ? Math.min(config.query.topLogprobs, cap) : config.query.topLogprobs;
}

/**
 * The request parameters a method sets over the query defaults (before the model family's rules, so a reasoning
 * model's max_completion_tokens still applies). `stated` sends a JSON schema whose keys are the sample's candidate ids
 * where the entry says the server takes one; elsewhere the prompt alone asks for the JSON.
 */
export function elicitParams(
  method: ElicitMethod,
  config: Config,
  model: ModelConfig,
  sample: SampleRecord,
): GenerationParams {
  if (method === 'logprobs') return { max_tokens: 2, logprobs: true, top_logprobs: topLogprobsFor(config, model) };
  const params: GenerationParams = { max_tokens: config.query.statedMaxTokens };
  if (model.capabilities?.jsonSchema) {
    params.response_format = {
      type: 'json_schema',
      json_schema: {
        name: 'candidate_probabilities',
        strict: true,
        schema: {
          type: 'object',
          properties: Object.fromEntries(sample.candidates.map((id) => [id, { type: 'number' }])),
          required: [...sample.candidates],
          additionalProperties: false,
        },
      },
    };
  }
  return params;
}

/**
 * Output tokens a dry run assumes per answer of a method (before a pilot measures them): a `stated` answer writes
 * each candidate's quoted id and a 3-decimal number (about 8 tokens each); a `logprobs` answer is its 1–2 tokens.
 */
export function assumedOutputTokens(method: ElicitMethod, config: Config): number {
  return method === 'stated' ? 8 * config.sample.K : 2;
}

/**
 * What a job's method sets over the query defaults: none for the paper's ranking prompt, asked once or n times; `n`
 * when its n asks are one request (lib/query/repeats.ts).
 */
export function methodParams(config: Config, model: ModelConfig, job: PromptJob): GenerationParams | undefined {
  if (job.elicit) return elicitParams(job.elicit, config, model, job.sample);
  return asksInOneRequest(config, model) ? { n: config.query.samples } : undefined;
}

/**
 * What a job's request carries besides its messages: its ask index and its method's parameters. The store key, the
 * body sent (synchronously or in a batch) and the stored entry all take them from here, so they cannot disagree.
 */
export function jobRequest(
  config: Config,
  model: ModelConfig,
  job: PromptJob,
): { repeat: number | undefined; method: GenerationParams | undefined } {
  return { repeat: requestRepeat(config, model, job), method: methodParams(config, model, job) };
}

/** The jobs of a method: one per prompt, its own messages and parameters. */
export function elicitJobs(
  method: ElicitMethod,
  jobs: readonly PromptJob[],
  itemName: (id: string) => string,
  config: Config,
  domain: DomainName,
  template: DomainPromptTemplate,
): PromptJob[] {
  return jobs.map((job) => ({
    sample: job.sample,
    messages: renderElicitPrompt(method, job.sample, itemName, config, domain, template),
    elicit: method,
  }));
}

/**
 * The passes of a run over a domain's prompts: the ranking prompt (asked `query.samples` times), then one per method of
 * its own request, each into a responses file of its own. A model that cannot serve a method stops the run here,
 * before any request.
 */
export function elicitationPasses(
  config: Config,
  domain: DomainName,
  inputs: { jobs: PromptJob[]; itemName: (id: string) => string },
  rankingJobs: PromptJob[],
  models: readonly ModelConfig[],
): { method?: ElicitMethod; jobs: PromptJob[] }[] {
  const methods = elicitMethodsOf(config);
  checkElicitation(
    config,
    models.map((m) => m.id),
  );
  const template = methods.length ? promptTemplate(config, domain) : null;
  return [
    { jobs: rankingJobs },
    ...methods.map((method) => ({
      method,
      jobs: elicitJobs(method, inputs.jobs, inputs.itemName, config, domain, template!),
    })),
  ];
}

/** The stage's log, with an elicitation method's lines named "<model> <domain> (<method>):". */
export function methodLog(
  log: (s: string) => void,
  model: ModelConfig,
  domain: DomainName,
  method: string | undefined,
): (s: string) => void {
  if (!method) return log;
  const plain = `${model.id} ${domain}:`;
  return (s) => log(s.replace(plain, `${model.id} ${domain} (${method}):`));
}

/** Why a model cannot serve a method (so nothing is sent), or null. */
export function elicitationRefusal(model: ModelConfig, method: ElicitMethod): string | null {
  if (model.provider === 'baseline') {
    return DISTRIBUTION_BASELINES.has(model.model)
      ? null
      : `offline baseline "${model.model}" has no distribution over the candidates to answer "${method}" (only ${[...DISTRIBUTION_BASELINES].join(', ')} has); leave it out with --models, or drop "${method}" from query.elicitation`;
  }
  if (method === 'logprobs' && model.capabilities?.logprobs === false)
    return `its entry says the server returns no logprobs ("capabilities": {"logprobs": false}); drop "logprobs" from query.elicitation, or correct the entry if the server does`;
  if (method === 'logprobs' && model.capabilities?.topLogprobs !== undefined && !(model.capabilities.topLogprobs >= 1))
    return `its entry allows no top logprobs ("capabilities.topLogprobs" is ${model.capabilities.topLogprobs})`;
  return null;
}

/**
 * Why a model's `samples` would measure nothing (null when they can): n rankings drawn at temperature 0 are (nearly)
 * one ranking, so the fitted distribution would be the model's sampling rule, not its uncertainty. The temperature is
 * the one sent: the entry's `params.temperature`, else none where its family takes only the default (1), else
 * `query.temperature`. Offline baselines draw with their own rule and are never refused.
 */
export function samplesRefusal(config: Config, model: ModelConfig): string | null {
  if (!(config.query.elicitation ?? []).includes('samples') || model.provider === 'baseline') return null;
  const own = model.params && Object.hasOwn(model.params, 'temperature') ? model.params.temperature : undefined;
  const sent =
    own !== undefined ? own : modelFamily(model.model)?.omit.includes('temperature') ? null : config.query.temperature;
  return sent === 0
    ? `its asks would be sent at temperature 0, where every ask gives (nearly) the same ranking; set "query.temperature" (e.g. 1) or the entry's "params.temperature" above 0 (the ranking prompt's first ask is then sent at it too)`
    : null;
}

/**
 * Refuses, before any request, a run that asks a model for a method it cannot serve (a ConfigError: the CLI exits 2).
 */
export function checkElicitation(config: Config, modelIds: readonly string[]): void {
  const problems: string[] = [];
  for (const model of config.query.models) {
    if (!modelIds.includes(model.id)) continue;
    const samplesWhy = samplesRefusal(config, model);
    if (samplesWhy) problems.push(`model "${model.id}" cannot be asked "samples": ${samplesWhy}`);
    for (const method of elicitMethodsOf(config, model)) {
      const why = elicitationRefusal(model, method);
      if (why) problems.push(`model "${model.id}" cannot be asked "${method}": ${why}`);
    }
  }
  if (problems.length) throw new ConfigError(`query.elicitation: ${problems.join('; ')}`);
}

/** The value written by a JSON answer for each key, in the order written (a repeated key is seen twice). */
export function statedEntries(text: string): [string, unknown][] | null {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) return null;
  const body = text.slice(start, end + 1);
  try {
    JSON.parse(body);
  } catch {
    return null;
  }
  // JSON.parse keeps only a repeated key's last value: the pairs are read again with a reviver-free scan.
  const entries: [string, unknown][] = [];
  const pair = /"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null|\{[^{}]*\}|\[[^[\]]*\])/g;
  for (const m of body.slice(1, -1).matchAll(pair)) {
    let value: unknown = m[2];
    try {
      value = JSON.parse(m[2]);
    } catch {
      // A malformed number stays text: statedDistribution lists it as non-numeric.
    }
    entries.push([JSON.parse(`"${m[1]}"`), value]);
  }
  return entries;
}
