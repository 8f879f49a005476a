/**
 * The built-in domains' defaults come from their descriptions (datasets/movielens.json, datasets/lastfm-1k.json):
 * download, folder, sample settings and the filters, which the hand-written parsers read as `preprocess.<domain>`
 * keys. config/default.json holds only what no description says (a parser's reading options), so the defaults are
 * "default.json ⊕ the built-in descriptions" and a user's configuration still overrides any of them by key.
 */
import * as path from 'node:path';
import {
  BUILTIN_DESCRIPTIONS,
  cachedDescription,
  DescriptionError,
  type DatasetDescription,
  type FilterSpec,
} from './description';
import type { Config, DatasetSource } from './config-types';

/** Where a described dataset is downloaded from and which folder holds it, as the configuration's `datasets.<name>`. */
export function datasetSourceOf(d: DatasetDescription): DatasetSource {
  return {
    url: d.download.url,
    archive: d.download.archive,
    archiveMd5: d.download.archiveMd5,
    folder: d.folder,
    ...(d.download.fileMd5 ? { fileMd5: d.download.fileMd5 } : {}),
  };
}

/** One `preprocess.<domain>` key of a hand-written parser and the description filter it is read from. */
interface FilterKey {
  key: string;
  /** The filter it expects, in words (for errors). */
  expected: string;
  matches: (f: FilterSpec) => boolean;
  /** `key` names the filter in errors ("filters[0]"). */
  value: (f: FilterSpec, d: DatasetDescription, file: string, key: string) => unknown;
}

const listEquals = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The hand-written MovieLens parser keeps occupation codes; the description names occupations by their labels. */
function occupationCodes(f: FilterSpec, d: DatasetDescription, file: string, key: string): number[] {
  const labels = d.users.proxies.occupation?.labels ?? {};
  return (f as { values: string[] }).values.map((label, i) => {
    const code = Object.keys(labels).find((k) => labels[k] === label);
    if (code === undefined)
      throw new DescriptionError(
        file,
        `${key}.values[${i}]`,
        `names the occupation "${label}", which "users.proxies.occupation.labels" does not have`,
      );
    return Number(code);
  });
}

/**
 * The filters each hand-written parser applies, in the order it applies them; the description must hold exactly
 * these (a filter the parser cannot apply would be silently ignored otherwise).
 */
const BUILTIN_FILTER_KEYS: Readonly<Record<string, readonly FilterKey[]>> = {
  movielens: [
    {
      key: 'dropOccupations',
      expected: 'a dropValues filter on "occupation"',
      matches: (f) => f.kind === 'dropValues' && f.proxy === 'occupation',
      value: occupationCodes,
    },
    {
      key: 'minDemographicGroupSize',
      expected: 'a minGroupSize filter over age, gender, occupation',
      matches: (f) => f.kind === 'minGroupSize' && listEquals(f.proxies, ['age', 'gender', 'occupation']),
      value: (f) => (f as { users: number }).users,
    },
  ],
  lastfm: [
    {
      key: 'regions',
      expected: 'a keepValues filter on "continent"',
      matches: (f) => f.kind === 'keepValues' && f.proxy === 'continent',
      value: (f) => [...(f as { values: string[] }).values],
    },
    {
      key: 'minListeningEvents',
      expected: 'a minInteractions filter of "rows" (listening events)',
      matches: (f) => f.kind === 'minInteractions' && f.of === 'rows',
      value: (f) => (f as { min: number }).min,
    },
  ],
};

/** A built-in domain's `preprocess.<domain>` keys, read from its description's filters. */
export function builtinPreprocess(domain: string, d: DatasetDescription, file: string): Record<string, unknown> {
  const keys = BUILTIN_FILTER_KEYS[domain];
  if (!keys)
    throw new Error(
      `builtinPreprocess: "${domain}" is not a built-in domain (built-in: ${Object.keys(BUILTIN_FILTER_KEYS).join(', ')})`,
    );
  const want = keys.map((k) => k.expected).join(', then ');
  if (d.filters.length !== keys.length)
    throw new DescriptionError(
      file,
      'filters',
      `must hold, in this order, ${want} (the built-in ${domain} parser applies these); got ${d.filters.length} filters`,
    );
  const out: Record<string, unknown> = {};
  keys.forEach((k, i) => {
    const f = d.filters[i];
    if (!k.matches(f))
      throw new DescriptionError(
        file,
        `filters[${i}]`,
        `must be ${k.expected} (the built-in ${domain} parser reads it as "preprocess.${domain}.${k.key}"), got ${JSON.stringify(f)}`,
      );
    out[k.key] = k.value(f, d, file, `filters[${i}]`);
  });
  return out;
}

/**
 * default.json completed with the built-in descriptions: `datasets.<domain>`, `sample.settings.<domain>` and the
 * filter keys of `preprocess.<domain>` (default.json's own keys there, such as a parser's reading options, follow).
 */
export function withBuiltinDescriptions(json: Config, root: string): Config {
  // default.json leaves these out (or holds only what no description says).
  const ownDatasets = json.datasets ?? {};
  const ownSettings = json.sample.settings ?? {};
  const datasets: Config['datasets'] = {};
  const preprocess: Record<string, unknown> = {};
  const settings: Config['sample']['settings'] = {};
  const own = (json.preprocess ?? {}) as Record<string, object | undefined>;
  // Copies: callers may change the configuration they get, and the descriptions are cached.
  for (const [domain, relative] of Object.entries(BUILTIN_DESCRIPTIONS)) {
    const file = path.join(root, relative);
    const d = cachedDescription(file);
    datasets[domain] = structuredClone(datasetSourceOf(d));
    preprocess[domain] = { ...builtinPreprocess(domain, d, file), ...own[domain] };
    settings[domain] = structuredClone(d.settings);
  }
  return {
    ...json,
    datasets: { ...datasets, ...ownDatasets },
    preprocess: {
      ...preprocess,
      ...Object.fromEntries(Object.entries(own).filter(([k]) => !(k in preprocess))),
    } as Config['preprocess'],
    sample: { ...json.sample, settings: { ...settings, ...ownSettings } },
  };
}
