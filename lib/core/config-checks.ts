/**
 * What every setting accepts, checked when the configuration is loaded, so a bad value stops the run with its key
 * before any stage touches a file (a stage that found it later would fail after work, and mark its good output
 * failed). Two tables: NULLABLE, the shapes of keys whose type is not their default's (checked key by key as each
 * file is merged), and SETTING_RULES, the values every setting accepts (checked on the merged configuration, so a
 * rule may compare keys). config.ts adds the source file to the message. The stages keep their own guards for
 * configurations built by hand.
 */
import {
  type Config,
  ELICITATION_METHODS,
  FIGURE_FORMATS,
  FIGURE_SIZE_PRESETS,
  FIGURE_STYLES,
  LEGEND_PLACEMENTS,
  MAX_CURVE_ORDER,
  MAX_RUN_NAME_LENGTH,
  MAX_TIMER_MS,
  isFigureSize,
} from './config-types';

const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Run names become folder names: no separators, no leading dot, not longer than a folder name should be. */
const RUN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
export const isRunName = (v: string) => RUN_NAME.test(v) && v.length <= MAX_RUN_NAME_LENGTH;
export const RUN_NAME_RULE = `letters, digits, "_", ".", "+" or "-", not starting with a dot, at most ${MAX_RUN_NAME_LENGTH} characters (it becomes a folder name)`;

/**
 * Keys whose default is null (or whose value may take several shapes), what they accept and how to say it.
 * Every other key must have the same JSON type as its default.
 */
export const NULLABLE: Record<string, { accepts: (v: unknown) => boolean; expected: string }> = {
  run: {
    accepts: (v) => v === null || (isString(v) && isRunName(v)),
    expected: `null or a run name (${RUN_NAME_RULE})`,
  },
  dataDir: { accepts: (v) => v === null || isString(v), expected: 'null or a folder path' },
  'datasets.*.archiveMd5': {
    accepts: (v) => v === null || (isString(v) && /^[0-9a-f]{32}$/.test(v)),
    expected: 'null or 32 hex digits',
  },
  'query.models[].baseURL': { accepts: (v) => v === null || isString(v), expected: 'null or a URL' },
  'query.models[].apiKeyEnv': {
    accepts: (v) => v === null || isString(v),
    expected: 'null or an environment variable name',
  },
  'query.models[].params': {
    accepts: (v) => isObject(v),
    expected: 'an object of request parameters (null removes a default)',
  },
  'query.models[].pricesAsOf': {
    accepts: (v) => isString(v) && /^\d{4}-\d{2}-\d{2}$/.test(v),
    expected: 'a date YYYY-MM-DD',
  },
  'query.models[].priceSource': { accepts: isString, expected: 'a URL' },
  'query.models[].quirks': {
    accepts: (v) =>
      Array.isArray(v) &&
      v.every((q) => isObject(q) && isString(q.note) && isString(q.source) && Object.keys(q).length === 2),
    expected: 'an array of {"note": text, "source": documentation URL}',
  },
  'query.models[].azure': {
    accepts: (v) =>
      isObject(v) &&
      Object.keys(v).sort().join() === 'apiVersionEnv,deploymentEnv,endpointEnv' &&
      Object.values(v).every(isString),
    expected: 'an object {"endpointEnv", "deploymentEnv", "apiVersionEnv"} naming environment variables',
  },
  'curves.range': {
    accepts: (v) => v === null || (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')),
    expected: 'null or [low, high]',
  },
  'figures.size': {
    accepts: (v) => v === null || isFigureSize(v),
    expected: `${Object.keys(FIGURE_SIZE_PRESETS)
      .map((k) => `"${k}"`)
      .join(', ')}, {"widthIn": 3.3, "heightIn": 2.4} or null`,
  },
};

/**
 * Null when the value is acceptable; else what is wrong with it, as the words that follow the key (`at`: the element
 * of a list that is wrong, e.g. "[0]").
 */
type Rule = (value: unknown, config: Config) => string | { at: string; problem: string } | null;

const shown = (v: unknown) => JSON.stringify(v);
const isWhole = (v: unknown): v is number => Number.isSafeInteger(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function wholeAtLeast(min: number, why = ''): Rule {
  return (v) => (isWhole(v) && v >= min ? null : `must be a whole number >= ${min}${why}, got ${shown(v)}`);
}

function whole(why: string): Rule {
  return (v) => (isWhole(v) ? null : `must be a whole number${why}, got ${shown(v)}`);
}

function numberWhere(ok: (v: number) => boolean, expected: string): Rule {
  return (v) => (isNumber(v) && ok(v) ? null : `must be ${expected}, got ${shown(v)}`);
}

function oneOf(values: readonly string[]): Rule {
  const words = values.map((x) => `"${x}"`);
  const expected = words.length > 2 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words.join(' or ');
  return (v) => (typeof v === 'string' && values.includes(v) ? null : `must be ${expected}, got ${shown(v)}`);
}

const timerMs = (what: string): Rule =>
  numberWhere(
    (v) => v > 0 && v <= MAX_TIMER_MS,
    `${what} > 0 and at most ${MAX_TIMER_MS} (Node's timer limit, about 24.8 days; a longer delay is cut to 1 ms)`,
  );

const historyLengths: Rule = (v) => {
  const list = v as number[];
  if (!Array.isArray(list) || list.length === 0)
    return `must list at least one history length (0 = setup C, e.g. [0, 1, 3, 5, 10, 20]), got ${shown(v)}`;
  const bad = list.find((h) => !(isWhole(h) && h >= 0));
  if (bad !== undefined) return `must hold whole numbers >= 0, got ${shown(bad)}`;
  const twice = list.find((h, i) => list.indexOf(h) !== i);
  if (twice !== undefined)
    return `lists ${twice} twice (got ${shown(list)}); each history length is asked once, so list it once`;
  return null;
};

const drawsPerSetting: Rule = (v, c) => {
  // Without a positive history length only setup C is drawn, which takes no draws.
  const min = c.sample.historyLengths.some((h) => h > 0) ? 1 : 0;
  return wholeAtLeast(min, min ? ' (trajectories per setting for the history lengths above 0)' : '')(v, c);
};

const curveOrder: Rule = (v, c) => {
  const base = wholeAtLeast(0)(v, c);
  if (base) return base;
  const order = v as number;
  if (order > MAX_CURVE_ORDER)
    return (
      `must be at most ${MAX_CURVE_ORDER}, got ${order}: the fit solves the normal equations of a polynomial, which ` +
      `lose every significant digit near order 22 (the paper fits order 4)`
    );
  if (order >= c.curves.bins)
    return (
      `(${order}) must be below "curves.bins" (${c.curves.bins}): an order-${order} fit needs ${order + 1} points, and ` +
      `a curve has at most one point per bin`
    );
  return null;
};

const curveRange: Rule = (v) => {
  if (v === null) return null;
  const r = v as number[];
  if (Array.isArray(r) && r.length === 2 && r.every(isNumber) && r[0] < r[1]) return null;
  return `must be null (the data's own range) or [low, high] with low < high (target entropies to bin), got ${shown(v)}`;
};

const figureFormats: Rule = (v) => {
  if (!Array.isArray(v)) return `must be a list of formats (${FIGURE_FORMATS.join(', ')}), got ${shown(v)}`;
  const unknown = v.find((f) => !(FIGURE_FORMATS as readonly unknown[]).includes(f));
  return unknown === undefined
    ? null
    : `has unknown format ${shown(unknown)} (supported: ${FIGURE_FORMATS.join(', ')}), got ${shown(v)}`;
};

const domains: Rule = (v) => {
  const list = v as string[];
  if (!Array.isArray(list) || list.length === 0) return `must name at least one domain, got ${shown(v)}`;
  const twice = list.find((d, i) => list.indexOf(d) !== i);
  return twice === undefined ? null : `lists "${twice}" twice (got ${shown(list)})`;
};

function nonEmptyText(expected: string): Rule {
  return (v) => (typeof v === 'string' && v.trim() !== '' ? null : `must be ${expected}, got ${shown(v)}`);
}

/** Every setting with a rule, in the order they are checked (the first problem is reported). */
export const SETTING_RULES: Readonly<Record<string, Rule>> = {
  seed: whole(' (the seed of every draw)'),
  domains,
  ...Object.fromEntries(
    ['raw', 'processed', 'samples', 'responses', 'store', 'scores', 'figures', 'runs'].map((k) => [
      `paths.${k}`,
      nonEmptyText('a folder path'),
    ]),
  ),
  'preprocess.movielens.dropOccupations': (v) =>
    Array.isArray(v) && v.every((x) => isWhole(x) && x >= 0)
      ? null
      : `must hold occupation codes (whole numbers >= 0), got ${shown(v)}`,
  'preprocess.movielens.minDemographicGroupSize': wholeAtLeast(1),
  'preprocess.lastfm.regions': (v) =>
    Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.trim() !== '')
      ? null
      : `must name at least one region to keep (e.g. ["Europe", "United Kingdom"]), got ${shown(v)}`,
  'preprocess.lastfm.minListeningEvents': wholeAtLeast(0),
  'sample.K': wholeAtLeast(2),
  'sample.historyLengths': historyLengths,
  'sample.matchThreshold': numberWhere((v) => v > 0 && v <= 1, 'in (0, 1]'),
  'sample.minMatchingUsers': wholeAtLeast(1, ' (users a history must match)'),
  'sample.drawsPerSetting': drawsPerSetting,
  'sample.retries': wholeAtLeast(0),
  'sample.historySource': oneOf(['group', 'catalogue', 'user']),
  'sample.candidateOrders': wholeAtLeast(1, " (1 = the paper's single shuffled list)"),
  'query.topN': (v, c) =>
    wholeAtLeast(1)(v, c) ??
    ((v as number) > c.sample.K
      ? `(${v}) must not exceed "sample.K" (${c.sample.K}): a prompt cannot ask for more items than it offers candidates`
      : null),
  'query.samples': wholeAtLeast(1, " (asks per prompt; 1 = the paper's single answer)"),
  'query.elicitation': elicitation,
  'query.statedMaxTokens': wholeAtLeast(1),
  'query.topLogprobs': wholeAtLeast(1, ' (the top-k of the first token)'),
  'query.temperature': numberWhere((v) => v >= 0, 'a number >= 0'),
  'query.seed': whole(' (sent to the API, which takes whole numbers)'),
  'query.maxTokens': wholeAtLeast(1),
  'query.maxRetries': wholeAtLeast(0),
  'query.timeoutMs': timerMs('milliseconds'),
  'query.outputTokensEstimate': wholeAtLeast(1, ' (tokens per answer, for dry runs)'),
  'query.batchDiscount': numberWhere((v) => v > 0 && v <= 1, 'in (0, 1] (the Batch API price as a share of the price)'),
  'query.batchMaxRequests': wholeAtLeast(1),
  'query.batchMaxBytes': wholeAtLeast(1),
  'query.batchPollSeconds': numberWhere(
    (v) => v > 0 && v * 1000 <= MAX_TIMER_MS,
    `seconds > 0 and at most ${MAX_TIMER_MS / 1000} (Node's timer limit)`,
  ),
  'score.logBase': numberWhere((v) => v > 1, '> 1 (2 for bits, 2.718281828459045 for nats)'),
  'score.smoothing': numberWhere((v) => v >= 0 && v < 1, 'in [0, 1)'),
  'score.missingPicks': oneOf(['worst', 'best']),
  'curves.bins': wholeAtLeast(1),
  'curves.window': wholeAtLeast(1),
  'curves.order': curveOrder,
  'curves.range': curveRange,
  'curves.edges': oneOf(['shrink', 'drop']),
  'curves.departureGap': numberWhere((v) => v > 0, 'a number > 0 (in the log unit of score.logBase)'),
  'curves.bootstrap': (v, c) =>
    wholeAtLeast(0, ' (0 = no intervals)')(v, c) ??
    (v === 1 ? 'must be 0 (no intervals) or >= 2 resamples, got 1' : null),
  'curves.confidence': numberWhere((v) => v > 0 && v < 1, 'in (0, 1)'),
  'curves.minBinPrompts': wholeAtLeast(2),
  'curves.profileBins': wholeAtLeast(1),
  'curves.minCurvePrompts': wholeAtLeast(1, ' (prompts a setup or curve needs for a fitted curve)'),
  'curves.resamplingUnit': oneOf(['draw', 'prompt', 'group']),
  'curves.calibration': wholeAtLeast(0, ' (0 = coverage not measured)'),
  comparisons: (v) => {
    const pairs = v as unknown[];
    const i = pairs.findIndex(
      (pair) =>
        !(
          Array.isArray(pair) &&
          pair.length === 2 &&
          pair.every((id) => typeof id === 'string') &&
          pair[0] !== pair[1]
        ),
    );
    return i < 0
      ? null
      : { at: `[${i}]`, problem: `must be two different model ids ["a", "b"], got ${shown(pairs[i])}` };
  },
  'figures.formats': figureFormats,
  'figures.style': oneOf(FIGURE_STYLES),
  'figures.legend': oneOf(LEGEND_PLACEMENTS),
  'figures.fontPt': numberWhere((v) => v >= 4 && v <= 24, 'a text size in points between 4 and 24'),
  'figures.font': nonEmptyText('a font family (e.g. "DejaVu Sans")'),
  'figures.dpi': numberWhere((v) => v >= 50 && v <= 2400, 'between 50 and 2400'),
  'figures.pngScale': numberWhere((v) => v > 0 && v <= 25, 'in (0, 25] (PNG pixels per CSS pixel; 25 = 2400 dpi)'),
  'figures.width': wholeAtLeast(100, ' (CSS pixels)'),
  'figures.height': wholeAtLeast(100, ' (CSS pixels)'),
};

function valueAt(config: Config, key: string): { found: boolean; value: unknown } {
  let v: unknown = config;
  for (const k of key.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, k))
      return { found: false, value: undefined };
    v = (v as Record<string, unknown>)[k];
  }
  return { found: true, value: v };
}

/** The first setting that breaks its rule, as `"key" …what is wrong…`; null when every setting is acceptable. */
export function settingProblem(config: Config): string | null {
  for (const [key, rule] of Object.entries(SETTING_RULES)) {
    const { found, value } = valueAt(config, key);
    // A key the configuration does not hold (a domain's preprocess section) has nothing to check.
    if (!found) continue;
    const problem = rule(value, config);
    if (typeof problem === 'string') return `"${key}" ${problem}`;
    if (problem) return `"${key}${problem.at}" ${problem.problem}`;
  }
  return null;
}

/** What is wrong with a known-distribution baseline's "known" options, or null. */
function knownOptionsProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return `must be an object such as {"tau": 1, "noise": 0.5, "eps": 0.001}`;
  const rules: Record<string, [(x: number) => boolean, string]> = {
    tau: [(x) => x > 0, 'a number > 0'],
    noise: [(x) => x >= 0, 'a number >= 0'],
    eps: [(x) => x > 0, 'a number > 0'],
  };
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    if (!Object.hasOwn(rules, key)) return `has unknown key "${key}" (known keys: tau, noise, eps)`;
    const [ok, expected] = rules[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value))
      return `"${key}" must be ${expected}, got ${JSON.stringify(value)}`;
  }
  return null;
}

/** The keys only a simulated baseline takes: the baseline kind that takes each, and what is wrong with a value, or null. */
/**
 * `query.elicitation`: known methods, each once, the ranking among them (every method is scored beside it), and
 * "samples" exactly when the prompt is asked several times.
 */
function elicitation(v: unknown, c: Config): string | null {
  const known = ELICITATION_METHODS as readonly unknown[];
  if (!Array.isArray(v) || v.some((m) => !known.includes(m)))
    return `must be a list of methods from ${ELICITATION_METHODS.join(', ')}, got ${shown(v)}`;
  if (new Set(v).size !== v.length) return `names a method twice: ${shown(v)}`;
  if (!v.includes('ranking'))
    return `must include "ranking" (the paper's answer, which every other method is compared with), got ${shown(v)}`;
  if (v.includes('samples') && c.query.samples < 2)
    return `lists "samples", which needs "query.samples" >= 2 asks per prompt (20 recommended), but query.samples is ${c.query.samples}`;
  return null;
}

export const SIMULATED_MODEL_KEYS: Record<string, { kind: string; problem: (v: unknown) => string | null }> = {
  departAt: {
    kind: 'departure',
    problem: (v) =>
      typeof v !== 'number' || !Number.isFinite(v) || v < 0
        ? `must be a finite number >= 0 (a target entropy), got ${JSON.stringify(v)}`
        : null,
  },
  known: { kind: 'known-distribution', problem: knownOptionsProblem },
};
