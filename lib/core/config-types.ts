/**
 * The shape of the configuration (config/default.json ⊕ the built-in descriptions ⊕ UBP_CONFIG ⊕ --config); loading and
 * checking it is config.ts, the built-in domains' datasets, settings and filters come from datasets/*.json (builtin-defaults.ts).
 */

/** A domain is whatever a dataset description names: the built-in ones, or one added with --dataset / "datasets". */
export type DomainName = string;
/** The built-in domains (their hand-written parsers stay for speed; datasets/*.json describe everything else). */
export const DOMAINS: readonly DomainName[] = ['movielens', 'lastfm'];

export type Provider = 'openai' | 'azure-openai' | 'openai-compatible' | 'baseline';
export const PROVIDERS: readonly Provider[] = ['openai', 'azure-openai', 'openai-compatible', 'baseline'];

/** A provider's documented behaviour worth knowing (a parameter it ignores or rejects), with the page that says so. */
/**
 * What fills the answer slots the model left empty (too few picks, unparseable text, titles outside the candidates,
 * duplicates): `worst` — the remaining candidates of LOWEST target probability, lowest first, the worst choice the
 * model could have made; `best` — the paper's literal rule, which hands every unpicked candidate its value in the
 * oracle's order and so scores an answer with one valid pick almost like the oracle.
 */
export type MissingPicksRule = 'worst' | 'best';

/** The ways of reading a model's answer (issue 22); "ranking" is the paper's. */
export const ELICITATION_METHODS = ['ranking', 'samples', 'stated', 'logprobs'] as const;
export type ElicitationMethod = (typeof ELICITATION_METHODS)[number];

/**
 * What a model's server can return beyond a chat answer; a method that needs what the entry says is missing is refused
 * before any request. Unsaid (absent) counts as unknown: the request is tried and the server's answer read.
 */
/** What a new model entry must say: which model it is, how hard to ask it and its prices (the rest is optional). */
export const REQUIRED_MODEL_KEYS = [
  'id',
  'provider',
  'model',
  'concurrency',
  'inputPricePerMTok',
  'outputPricePerMTok',
];

export interface ModelCapabilities {
  /** `logprobs: true` with `top_logprobs` is answered (Anthropic's compatibility layer ignores it, Groq rejects it). */
  logprobs?: boolean;
  /** The largest `top_logprobs` accepted (OpenAI 20; vLLM its --max-logprobs). */
  topLogprobs?: number;
  /** Several choices from one request (`n`). */
  n?: boolean;
  /** `response_format: {type: "json_schema"}` (structured outputs). */
  jsonSchema?: boolean;
}

export interface ModelQuirk {
  note: string;
  source: string;
}

/** Azure OpenAI: the environment variables holding the resource endpoint, the deployment name and the api-version. */
export interface AzureSettings {
  endpointEnv: string;
  deploymentEnv: string;
  apiVersionEnv: string;
}

/** A request parameter's value in a model entry; null removes a default (e.g. "temperature": null). */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [k: string]: ParamValue };

export interface ModelConfig {
  id: string;
  provider: Provider;
  /** The name sent to the API (or the baseline's kind). */
  model: string;
  baseURL: string | null;
  /** Name of the environment variable that holds the key; the key itself never enters the config. */
  apiKeyEnv: string | null;
  concurrency: number;
  inputPricePerMTok: number;
  outputPricePerMTok: number;
  /**
   * Only for the simulated baseline (provider "baseline", model "departure"): the target entropy below which it
   * answers like `random` (at and above it, like `oracle`), in the configured log unit.
   */
  departAt?: number;
  /**
   * Only for the simulated baseline (provider "baseline", model "known-distribution"): how its own distribution q* is
   * made from the target (lib/query/known-distribution.ts; defaults tau 1, noise 0.5, eps 0.001).
   */
  known?: { tau?: number; noise?: number; eps?: number };
  /** Request parameters of this model, over the query defaults (snake case as sent; null removes a default). */
  params?: Record<string, ParamValue>;
  /** The day the prices were read (YYYY-MM-DD) and the page they were read from. */
  pricesAsOf?: string;
  priceSource?: string;
  quirks?: ModelQuirk[];
  capabilities?: ModelCapabilities;
  /** Provider "azure-openai" only. */
  azure?: AzureSettings;
}

export interface DatasetSource {
  url: string;
  archive: string;
  archiveMd5: string | null;
  folder: string;
  fileMd5?: Record<string, string>;
  /** The dataset description file (datasets/*.json; relative paths from the repository root). */
  description?: string;
}

export interface Config {
  /**
   * A named run (`--run NAME`, a notebook's `run` parameter): samples, responses, scores and figures go under
   * `paths.runs/NAME/`, so a variant never overwrites the baseline; raw, processed data and the response store stay shared.
   */
  run: string | null;
  seed: number;
  /** Local mirror holding `ml-1m/` and `lastfm-1k/`; the UBP_DATA_DIR environment variable overrides it. */
  dataDir: string | null;
  download: boolean;
  domains: DomainName[];
  paths: {
    raw: string;
    processed: string;
    samples: string;
    responses: string;
    store: string;
    scores: string;
    figures: string;
    runs: string;
  };
  datasets: Record<DomainName, DatasetSource>;
  preprocess: {
    movielens: { dropOccupations: number[]; minDemographicGroupSize: number };
    lastfm: {
      regions: string[];
      minListeningEvents: number;
      /** Skip (and count) malformed event lines instead of stopping. */ skipMalformedLines: boolean;
    };
  };
  sample: {
    K: number;
    historyLengths: number[];
    matchThreshold: number;
    minMatchingUsers: number;
    drawsPerSetting: number;
    retries: number;
    historySource: 'group' | 'catalogue' | 'user';
    /** Candidate orders per sample (lib/sample/orders.ts); 1 = the paper's single shuffled list. */
    candidateOrders: number;
    /** Per domain: setting name → the proxies it combines (empty = no proxy). */
    settings: Record<DomainName, Record<string, string[]>>;
  };
  query: {
    topN: number;
    /** Times each prompt is asked, with seeds query.seed, query.seed + 1, …; 1 = the paper's single answer. */
    samples: number;
    /**
     * How the model's answer is read (lib/query/elicit.ts): "ranking" (the paper's prompt, always asked), "samples"
     * (the `query.samples` asks of it, fitted as a distribution), "stated" (probabilities written per candidate) and
     * "logprobs" (the first token's logprobs over the candidates' numbers); each method besides the ranking is one more
     * request per prompt.
     */
    elicitation: ElicitationMethod[];
    /** `stated`: the most tokens of its answer (about 50 numbers with their ids). */
    statedMaxTokens: number;
    /** `logprobs`: the top-k asked for (capped by the model's `capabilities.topLogprobs`). */
    topLogprobs: number;
    temperature: number;
    seed: number;
    maxTokens: number;
    maxRetries: number;
    timeoutMs: number;
    outputTokensEstimate: number;
    batchDiscount: number;
    /** Batch API: most requests per batch (OpenAI allows 50,000); larger runs are split. */
    batchMaxRequests: number;
    /** Batch API: most bytes of request JSONL per batch (OpenAI allows 200 MB); larger runs are split. */
    batchMaxBytes: number;
    /** Batch API: seconds between status polls while waiting (fractions allowed). */
    batchPollSeconds: number;
    /** Batch API: wait for submitted batches to finish (true) or submit and return, leaving a later run to collect (false). */
    batchWait: boolean;
    models: ModelConfig[];
  };
  score: {
    logBase: number;
    smoothing: number;
    /** What fills answer slots without a valid pick (lib/score/score.ts, MissingPicksRule). */
    missingPicks: MissingPicksRule;
  };
  curves: {
    bins: number;
    window: number;
    order: number;
    range: [number, number] | null;
    /** Rolling mean at the ends of the data: "shrink" (centred window that narrows) or "drop" (full windows only). */
    edges: 'shrink' | 'drop';
    /** Gap (cross-entropy − target entropy) at or above which a curve counts as departed from X = Y. */
    departureGap: number;
    /** Resamples of every bootstrap (0: no intervals; 1 is refused: one resample is no interval). */
    bootstrap: number;
    confidence: number;
    /** Gap profile: bins of equal prompt counts, at least this many prompts each, at most `profileBins` bins. */
    minBinPrompts: number;
    profileBins: number;
    /**
     * A setup or curve with fewer prompts is drawn as points with a "too few prompts" note, without fit, band or
     * departure marker, and its statistics are flagged (docs/configuration.md says why 30).
     */
    minCurvePrompts: number;
    /** What is resampled together: the draw (all prompts of one trajectory), each prompt, or a demographic group. */
    resamplingUnit: 'draw' | 'prompt' | 'group';
    /** Simulated datasets for the measured coverage of every interval (0: not measured). */
    calibration: number;
  };
  /** Model pairs the user compares ("a", "b"): a family of their own for the multiplicity adjustment. */
  comparisons: [string, string][];
  figures: {
    /** Some of FIGURE_FORMATS. */
    formats: string[];
    /** "screen": titles inside, pixel sizes; "paper": no title, text in points, sizes in inches. */
    style: FigureStyle;
    /** Inches (presets or explicit); null = the screen size `width` × `height` in CSS pixels. */
    size: FigureSize | null;
    /** Text size in paper style, in points. */
    fontPt: number;
    /** One family for SVG, PDF and PNG; it must be installed where export runs (environment.md). */
    font: string;
    /** PNG resolution when the size is in inches. */
    dpi: number;
    /** PNG pixel density at the screen size. */
    pngScale: number;
    /** Where the legend goes: "auto" (below or beside the panels, its own file when neither fits) or "outside". */
    legend: LegendPlacement;
    width: number;
    height: number;
  };
}

/** The run report, written directly under paths.figures beside the domains' folders. */
export const REPORT_FILE = 'report.html';
/** Files directly under paths.figures (the committed figures/README.md too): no domain may be named like one. */
export const FIGURES_ROOT_FILES: readonly string[] = [REPORT_FILE, 'README.md'];

/** The figure files the plot stage can write (`figures.formats`); lib/plot/export.ts writes them. */
export const FIGURE_FORMATS = ['html', 'svg', 'pdf', 'png'] as const;
export type FigureFormat = (typeof FIGURE_FORMATS)[number];

/** Longest run name: it becomes a folder name under `paths.runs`, and each stage adds its own folders below it. */
export const MAX_RUN_NAME_LENGTH = 64;
/** Node's timers (setTimeout, AbortSignal.timeout) take at most 2^31 − 1 ms; a longer delay is cut to 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;
/**
 * Highest `curves.order`: lib/score/curves.ts fits by the normal equations in t ∈ [−1, 1], whose condition number grows
 * about 5.6-fold per order (for 200 evenly spaced points: 4.9e10 at order 15, 2.9e14 at 20, about 1e16 — the end of
 * double precision, where the solve may report a singular matrix — at 22). Up to 15 the coefficients keep at least 5
 * significant digits; the paper fits order 4.
 */
export const MAX_CURVE_ORDER = 15;

export const FIGURE_STYLES = ['screen', 'paper'] as const;
export type FigureStyle = (typeof FIGURE_STYLES)[number];
/** "outside": the figure has no legend and `<name>-legend.<format>` holds it (for a caption or a shared key). */
export const LEGEND_PLACEMENTS = ['auto', 'outside'] as const;
export type LegendPlacement = (typeof LEGEND_PLACEMENTS)[number];
/** Column widths of a two-column paper (ACL/IEEE/ACM templates are 3.3 and 7 inches). */
export const FIGURE_SIZE_PRESETS = { 'single-column': 3.3, 'double-column': 7 } as const;
export type FigureSizePreset = keyof typeof FIGURE_SIZE_PRESETS;
/** A preset fixes the width and lets each figure choose its height; an explicit size fixes both. */
export type FigureSize = FigureSizePreset | { widthIn: number; heightIn: number };

export function isFigureSize(v: unknown): v is FigureSize {
  if (typeof v === 'string') return Object.hasOwn(FIGURE_SIZE_PRESETS, v);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    Object.keys(o).every((k) => k === 'widthIn' || k === 'heightIn') &&
    [o.widthIn, o.heightIn].every((x) => typeof x === 'number' && x > 0 && x <= 100)
  );
}
