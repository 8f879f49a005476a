import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_DESCRIPTIONS, cachedDescription, type DatasetDescription } from './description';
import { domainNameProblem, protoKeyPath, unsafePathReason } from './containment';
import { datasetSourceOf, withBuiltinDescriptions } from './builtin-defaults';

export * from './config-types';
export * from './paths';
import { repoRoot, resolvePath, rawFolderProblem } from './paths';
export { RUN_NAME_RULE, isRunName } from './config-checks';
import type { Config, DatasetSource, DomainName, ModelConfig } from './config-types';
import { MAX_RUN_NAME_LENGTH, PROVIDERS, REQUIRED_MODEL_KEYS } from './config-types';
import { NULLABLE, RUN_NAME_RULE, SIMULATED_MODEL_KEYS, isRunName, settingProblem } from './config-checks';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = 'config/default.json';
/** Ready model entries selectable by id (`--models ID`) without being in the configuration. */
export const CATALOGUE_FILE = 'config/models.json';

/** The stage folders a named run keeps apart; raw, processed and the response store are shared by every run. */
const RUN_SCOPED_PATHS = ['samples', 'responses', 'scores', 'figures'] as const;

/** Objects whose keys are user-chosen (not checked against the defaults' keys). */
const OPEN_MAPS = new Set(['sample.settings', 'sample.settings.*', 'datasets', 'datasets.*.fileMd5']);

/** What an entry of an open map that the defaults do not have is checked against. */
const OPEN_EXAMPLES: Record<string, unknown> = {
  datasets: { url: 'x', archive: 'x', archiveMd5: null, folder: 'x', fileMd5: {}, description: 'x' },
  'sample.settings': { none: [] as string[] },
};

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function patternOf(p: string): string {
  return p
    .replace(/\.models\[\d+\]/g, '.models[]')
    .replace(/^datasets\.[^.]+/, 'datasets.*')
    .replace(/^sample\.settings\.[^.]+/, 'sample.settings.*');
}

/** A value as JSON for an error message, cut when long (a 300-character run name need not be printed whole). */
function shortJson(v: unknown): string {
  const json = JSON.stringify(v);
  return json.length > 80 ? `${json.slice(0, 60)}… (${json.length} characters)` : json;
}

function validateAgainst(value: unknown, template: unknown, where: string, source: string): void {
  const pattern = patternOf(where);
  const nullable = Object.hasOwn(NULLABLE, pattern) ? NULLABLE[pattern] : undefined;
  if (nullable) {
    if (!nullable.accepts(value))
      throw new ConfigError(`${source}: "${where}" must be ${nullable.expected}, got ${shortJson(value)}`);
    return;
  }
  const want = jsonType(template);
  const got = jsonType(value);
  if (want !== got) {
    throw new ConfigError(
      `${source}: "${where}" must be ${want === 'object' || want === 'array' ? `an ${want}` : `a ${want}`}, got ${got} ${JSON.stringify(value)}`,
    );
  }
  if (want === 'array') {
    const arr = value as unknown[];
    const tpl = template as unknown[];
    if (tpl.length > 0) arr.forEach((item, i) => validateAgainst(item, tpl[0], `${where}[${i}]`, source));
    return;
  }
  if (want === 'object') {
    const obj = value as Record<string, unknown>;
    const tpl = template as Record<string, unknown>;
    if (OPEN_MAPS.has(pattern)) {
      for (const [k, v] of Object.entries(obj)) {
        const example = Object.hasOwn(tpl, k)
          ? tpl[k]
          : Object.hasOwn(OPEN_EXAMPLES, pattern)
            ? OPEN_EXAMPLES[pattern]
            : Object.values(tpl)[0];
        if (example !== undefined) validateAgainst(v, example, `${where}.${k}`, source);
      }
      return;
    }
    for (const [k, v] of Object.entries(obj)) {
      if (!Object.hasOwn(tpl, k)) {
        const known = Object.keys(tpl).join(', ');
        throw new ConfigError(`${source}: unknown key "${where ? `${where}.` : ''}${k}" (known keys here: ${known})`);
      }
      validateAgainst(v, tpl[k], where ? `${where}.${k}` : k, source);
    }
  }
}

const MODEL_TEMPLATE: ModelConfig = {
  id: 'x',
  provider: 'baseline',
  model: 'x',
  baseURL: null,
  apiKeyEnv: null,
  concurrency: 1,
  inputPricePerMTok: 0,
  outputPricePerMTok: 0,
  params: {},
  pricesAsOf: '2000-01-01',
  priceSource: '',
  quirks: [],
  capabilities: { logprobs: true, topLogprobs: 20, n: true, jsonSchema: true },
  azure: { endpointEnv: 'X', deploymentEnv: 'X', apiVersionEnv: 'X' },
};

/** Keys a new model entry may leave out: all but what says which model it is, how hard to ask it and its prices. */
const OPTIONAL_MODEL_KEYS = new Set(Object.keys(MODEL_TEMPLATE).filter((k) => !REQUIRED_MODEL_KEYS.includes(k)));

function validateModels(models: unknown, source: string): void {
  if (!Array.isArray(models)) throw new ConfigError(`${source}: "query.models" must be an array of model entries`);
  models.forEach((m, i) => {
    const where = `query.models[${i}]`;
    if (jsonType(m) !== 'object') throw new ConfigError(`${source}: "${where}" must be an object`);
    const entry = m as Record<string, unknown>;
    if (typeof entry.id !== 'string' || entry.id === '' || entry.id.includes('@'))
      throw new ConfigError(`${source}: "${where}.id" must be a non-empty string without "@"`);
    for (const [k, v] of Object.entries(entry)) {
      const simulatedKey = Object.hasOwn(SIMULATED_MODEL_KEYS, k) ? SIMULATED_MODEL_KEYS[k] : undefined;
      if (simulatedKey) {
        const problem = simulatedKey.problem(v);
        if (problem) throw new ConfigError(`${source}: "${where}.${k}" ${problem}`);
        continue;
      }
      if (!Object.hasOwn(MODEL_TEMPLATE, k))
        throw new ConfigError(
          `${source}: unknown key "${where}.${k}" (known keys: ${[...Object.keys(MODEL_TEMPLATE), ...Object.keys(SIMULATED_MODEL_KEYS)].join(', ')})`,
        );
      validateAgainst(v, (MODEL_TEMPLATE as unknown as Record<string, unknown>)[k], `${where}.${k}`, source);
    }
    if (entry.provider !== undefined && !(PROVIDERS as readonly unknown[]).includes(entry.provider)) {
      throw new ConfigError(
        `${source}: "${where}.provider" must be one of ${PROVIDERS.join(', ')}; got ${JSON.stringify(entry.provider)}`,
      );
    }
    for (const price of ['inputPricePerMTok', 'outputPricePerMTok']) {
      if (entry[price] !== undefined && !((entry[price] as number) >= 0))
        throw new ConfigError(`${source}: "${where}.${price}" must be a number >= 0 (USD per million tokens)`);
    }
    if (
      entry.concurrency !== undefined &&
      !(Number.isInteger(entry.concurrency) && (entry.concurrency as number) >= 1)
    ) {
      throw new ConfigError(`${source}: "${where}.concurrency" must be a whole number >= 1`);
    }
  });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return jsonType(v) === 'object';
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(base, k) ? deepMerge(base[k], v) : v;
    return out;
  }
  return over;
}

/**
 * Models in an override are added to the defaults, or replace the default with the same id field by field; an id that
 * is not configured but is in the catalogue starts from the catalogue entry (so `{"id": "gpt-5-mini", "baseURL": …}`
 * points the catalogue's entry at a proxy).
 */
function mergeModels(base: ModelConfig[], over: Partial<ModelConfig>[], source: string): ModelConfig[] {
  const out = base.map((m) => ({ ...m }));
  for (const m of over) {
    const i = out.findIndex((x) => x.id === m.id);
    const listed = i >= 0 ? undefined : catalogue().find((x) => x.id === m.id);
    if (i >= 0) out[i] = { ...out[i], ...m } as ModelConfig;
    else if (listed) out.push({ ...listed, ...m } as ModelConfig);
    else {
      const missing = Object.keys(MODEL_TEMPLATE).filter((k) => !(k in m) && !OPTIONAL_MODEL_KEYS.has(k));
      if (missing.length) {
        throw new ConfigError(
          `${source}: new model "${m.id}" is missing ${missing.map((k) => `"${k}"`).join(', ')} (and is not a catalogue id: ${catalogue()
            .map((x) => x.id)
            .join(', ')})`,
        );
      }
      out.push({ baseURL: null, apiKeyEnv: null, ...m } as ModelConfig);
    }
  }
  return out;
}

/** Whole-entry checks once an entry is complete (after merging). */
function checkModelEntry(m: ModelConfig, source: string): void {
  if (m.provider === 'azure-openai' && !m.azure) {
    throw new ConfigError(
      `${source}: model "${m.id}" has provider azure-openai but no "azure" block naming its endpoint, deployment and api-version variables`,
    );
  }
  if (m.provider !== 'azure-openai' && m.azure)
    throw new ConfigError(`${source}: model "${m.id}" has an "azure" block but provider ${m.provider}`);
  if (m.params && (Object.hasOwn(m.params, 'model') || Object.hasOwn(m.params, 'messages'))) {
    throw new ConfigError(
      `${source}: model "${m.id}": "params" may not set "model" or "messages" (they come from the entry and the prompt)`,
    );
  }
}

let catalogueCache: { file: string; models: ModelConfig[] } | undefined;

/** The catalogue of ready model entries (config/models.json), validated; read once. */
export function catalogue(file = path.join(repoRoot(), CATALOGUE_FILE)): ModelConfig[] {
  if (catalogueCache?.file === file) return catalogueCache.models;
  const raw = readJsonFile(file);
  if (!isPlainObject(raw) || !Array.isArray(raw.models))
    throw new ConfigError(`${file}: must be an object with a "models" array`);
  validateModels(raw.models, file);
  const ids = new Set<string>();
  const models = (raw.models as Partial<ModelConfig>[]).map((m) => {
    const missing = Object.keys(MODEL_TEMPLATE).filter((k) => !(k in m) && !OPTIONAL_MODEL_KEYS.has(k));
    if (missing.length)
      throw new ConfigError(`${file}: catalogue model "${m.id}" is missing ${missing.map((k) => `"${k}"`).join(', ')}`);
    if (ids.has(m.id as string)) throw new ConfigError(`${file}: model id "${m.id}" appears twice`);
    ids.add(m.id as string);
    const entry = { baseURL: null, apiKeyEnv: null, ...m } as ModelConfig;
    checkModelEntry(entry, file);
    return entry;
  });
  catalogueCache = { file, models };
  return models;
}

/**
 * The configuration with the catalogue entries of the requested ids added (ids already configured keep their entry).
 * Unknown ids are left for model selection to report.
 */
export function withCatalogueModels(config: Config, ids: readonly string[]): Config {
  const configured = new Set(config.query.models.map((m) => m.id));
  const added = ids
    .filter((id) => !configured.has(id))
    .map((id) => catalogue().find((m) => m.id === id))
    .filter((m): m is ModelConfig => !!m);
  if (!added.length) return config;
  return { ...config, query: { ...config.query, models: [...config.query.models, ...added.map((m) => ({ ...m }))] } };
}

function semanticChecks(c: Config, source: string): void {
  checkDatasetNames(c, source);
  const known = Object.keys(c.datasets);
  for (const d of c.domains)
    if (!known.includes(d))
      throw new ConfigError(
        `${source}: "domains" has unknown domain "${d}" (known: ${known.join(', ')}; add one with --dataset FILE or "datasets")`,
      );
  const problem = settingProblem(c);
  if (problem) throw new ConfigError(`${source}: ${problem}`);
  const ids = new Set<string>();
  for (const m of c.query.models) {
    if (m.provider === 'baseline' && m.model === 'departure' && m.departAt === undefined)
      throw new ConfigError(
        `${source}: model "${m.id}" (baseline "departure") needs "departAt", the target entropy below which it answers like random`,
      );
    for (const [key, { kind }] of Object.entries(SIMULATED_MODEL_KEYS))
      if (
        (m as unknown as Record<string, unknown>)[key] !== undefined &&
        !(m.provider === 'baseline' && m.model === kind)
      )
        throw new ConfigError(
          `${source}: model "${m.id}": "${key}" applies only to provider "baseline" with model "${kind}"`,
        );
    if (ids.has(m.id)) throw new ConfigError(`${source}: model id "${m.id}" appears twice in "query.models"`);
    ids.add(m.id);
    checkModelEntry(m, source);
  }
}

export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** config/default.json ⊕ the built-in domains' descriptions (their download, folder, settings and filters). */
export function defaultConfig(): Config {
  const root = repoRoot();
  try {
    return withBuiltinDescriptions(readJsonFile(path.join(root, DEFAULT_CONFIG_FILE)) as Config, root);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** Merges an override object over the defaults, validating keys and types; `source` names it in errors. */
export function mergeConfig(base: Config, override: unknown, source = 'config'): Config {
  if (!isPlainObject(override)) throw new ConfigError(`${source}: the configuration must be a JSON object`);
  const proto = protoKeyPath(override);
  if (proto !== null)
    throw new ConfigError(`${source}: "${proto}" is not allowed: "__proto__" is reserved by JavaScript`);
  const { query, ...rest } = override;
  validateAgainst(rest, base, '', source);
  let merged = deepMerge(base, rest) as Config;
  if (query !== undefined) {
    if (!isPlainObject(query)) throw new ConfigError(`${source}: "query" must be an object`);
    const { models, ...queryRest } = query;
    validateAgainst(queryRest, base.query, 'query', source);
    merged = { ...merged, query: deepMerge(base.query, queryRest) as Config['query'] };
    if (models !== undefined) {
      validateModels(models, source);
      merged.query.models = mergeModels(base.query.models, models as Partial<ModelConfig>[], source);
    }
  }
  // sample.settings replaces per domain rather than merging setting by setting, so a user can drop settings.
  const settings = (rest as { sample?: { settings?: Record<string, unknown> } }).sample?.settings;
  if (settings)
    for (const [d, v] of Object.entries(settings)) (merged.sample.settings as Record<string, unknown>)[d] = v;
  semanticChecks(merged, source);
  return merged;
}

export interface LoadOptions {
  /** A JSON file merged over the defaults (else the UBP_CONFIG environment variable, if set). */
  configFile?: string;
  /** An object merged last (notebook parameter cells, tests). */
  overrides?: unknown;
  env?: NodeJS.ProcessEnv;
  /** Dataset description files whose domains are added (the --dataset option). */
  datasets?: string[];
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  let config = defaultConfig();
  const configFile = opts.configFile ?? env.UBP_CONFIG;
  if (configFile)
    config = joinNewDatasets(
      config,
      mergeConfig(config, readJsonFile(configFile), configFile),
      readJsonFile(configFile),
    );
  if (opts.overrides !== undefined)
    config = joinNewDatasets(config, mergeConfig(config, opts.overrides, 'overrides'), opts.overrides);
  if (env.UBP_DATA_DIR) config = { ...config, dataDir: env.UBP_DATA_DIR };
  for (const file of opts.datasets ?? []) config = addDataset(config, file);
  config = withDescriptions(config);
  config = withRun(config, config.run);
  checkRawFolders(config);
  return config;
}

/** A dataset an override adds under "datasets" joins "domains", unless the override lists the domains itself. */
function joinNewDatasets(before: Config, after: Config, override: unknown): Config {
  if (isPlainObject(override) && Object.hasOwn(override, 'domains')) return after;
  const added = Object.keys(after.datasets).filter(
    (d) => !Object.hasOwn(before.datasets, d) && !after.domains.includes(d),
  );
  return added.length ? { ...after, domains: [...after.domains, ...added] } : after;
}

/** The description file of a domain as configured (its own, else the built-in one), or null when it has none. */
export function descriptionFileOf(config: Config, domain: DomainName): string | null {
  const own = Object.hasOwn(config.datasets, domain) ? config.datasets[domain].description : undefined;
  return own ?? (Object.hasOwn(BUILTIN_DESCRIPTIONS, domain) ? BUILTIN_DESCRIPTIONS[domain] : null);
}

/** The description of a domain: its configured file, else the built-in one; null for a domain without one. */
export function descriptionOf(config: Config, domain: DomainName): DatasetDescription | null {
  const file = descriptionFileOf(config, domain);
  if (!file) return null;
  const d = cachedDescription(resolvePath(file));
  if (d.name !== domain)
    throw new ConfigError(`${file}: "name" is "${d.name}", but the configuration lists it under "datasets.${domain}"`);
  return d;
}

/** What a domain's preprocessing is configured by: the built-in domains' "preprocess" section, else its description's filters. */
export function preprocessParameters(config: Config, domain: DomainName): unknown {
  const section = Object.hasOwn(config.preprocess, domain)
    ? (config.preprocess as Record<string, unknown>)[domain]
    : undefined;
  return section !== undefined ? section : (descriptionOf(config, domain)?.filters ?? null);
}

/**
 * Adds the domain a description file names (the --dataset option): its download, folder and settings become
 * `datasets.<name>` and `sample.settings.<name>` (values the configuration already holds win), and it joins "domains".
 */
export function addDataset(config: Config, file: string): Config {
  const abs = path.resolve(file);
  let d: DatasetDescription;
  try {
    d = cachedDescription(abs);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const before = Object.hasOwn(config.datasets, d.name) ? config.datasets[d.name] : undefined;
  if (before?.description !== undefined && resolvePath(before.description) !== abs)
    throw new ConfigError(
      `${file}: "name" is "${d.name}", which the description ${before.description} already names ("datasets.${d.name}.description"); two datasets cannot share a domain name`,
    );
  const datasets = { ...config.datasets, [d.name]: { ...before, description: abs } as DatasetSource };
  const domains = config.domains.includes(d.name) ? config.domains : [...config.domains, d.name];
  return withDescriptions({ ...config, datasets, domains });
}

/** Fills each described dataset's download, folder and sample settings from its description where the configuration is silent. */
function withDescriptions(config: Config): Config {
  const datasets = { ...config.datasets };
  const settings = { ...config.sample.settings };
  for (const domain of Object.keys(datasets)) {
    const own = datasets[domain].description;
    const builtin = Object.hasOwn(BUILTIN_DESCRIPTIONS, domain) ? resolvePath(BUILTIN_DESCRIPTIONS[domain]) : null;
    // A built-in domain is read by its own parser from its own folder: another description under its name would
    // mix the two (and mark the shared processed data failed when it fails).
    if (own !== undefined && builtin !== null && resolvePath(own) !== builtin)
      throw new ConfigError(
        `${own}: "name" is "${domain}", the name of a built-in domain (built-in: ${Object.keys(BUILTIN_DESCRIPTIONS).join(', ')}); choose another name`,
      );
    if (!own && !builtin) continue;
    let d: DatasetDescription | null;
    try {
      d = descriptionOf(config, domain);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    if (!d) continue;
    if (own) datasets[domain] = { ...datasetSourceOf(d), ...datasets[domain] };
    settings[domain] ??= d.settings;
    const proxies = d.users.proxies;
    for (const [name, list] of Object.entries(settings[domain]))
      list.forEach((p, j) => {
        if (!Object.hasOwn(proxies, p))
          throw new ConfigError(
            `"sample.settings.${domain}.${name}[${j}]" names the proxy "${p}", which the ${domain} description does not define (proxies: ${Object.keys(proxies).join(', ')})`,
          );
      });
  }
  return { ...config, datasets, sample: { ...config.sample, settings } };
}

/**
 * The configuration of a named run: the run-scoped stage folders move under `paths.runs/NAME/`. Derived from
 * `paths.runs` (not from the current folders), so applying it twice, or to a saved run configuration, changes nothing.
 */
export function withRun(config: Config, run: string | null): Config {
  if (run === null) return { ...config, run: null };
  if (!isRunName(run))
    throw new ConfigError(
      `run name "${run.length > MAX_RUN_NAME_LENGTH ? `${run.slice(0, 20)}…" (${run.length} characters)` : `${run}"`} must be ${RUN_NAME_RULE}`,
    );
  const paths = { ...config.paths };
  for (const key of RUN_SCOPED_PATHS) paths[key] = path.join(config.paths.runs, run, key);
  return { ...config, run, paths };
}

/**
 * Every dataset's key is a usable domain name, and its folder and archive are plain names: they are joined to
 * paths.raw and dataDir, and extraction replaces files there, so neither may climb out (`datasets.x.folder: ".."`).
 */
function checkDatasetNames(c: Config, source: string): void {
  for (const [domain, src] of Object.entries(c.datasets)) {
    const problem = domainNameProblem(domain);
    if (problem) throw new ConfigError(`${source}: "datasets.${domain}" ${problem}`);
    for (const key of ['folder', 'archive'] as const) {
      const why = typeof src[key] === 'string' ? unsafePathReason(src[key], 'segment') : null;
      if (why)
        throw new ConfigError(
          `${source}: "datasets.${domain}.${key}" must be one plain name (no "/", "\\", "." or "..") under paths.raw: it ${why}, got ${JSON.stringify(src[key])}`,
        );
    }
  }
}

/** Refuses a configuration whose datasets' raw folders reach into a stage's folder (see rawFolderProblem). */
function checkRawFolders(config: Config): void {
  for (const domain of Object.keys(config.datasets)) {
    const problem = rawFolderProblem(config, domain);
    if (problem) {
      const { folder, description } = config.datasets[domain];
      const from = description && descriptionOf(config, domain)?.folder === folder ? ` (${description}: "folder")` : '';
      throw new ConfigError(`"datasets.${domain}.folder"${from} is ${JSON.stringify(folder)}: ${problem}`);
    }
  }
}
