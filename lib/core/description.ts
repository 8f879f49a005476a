/**
 * A dataset described in one JSON file (datasets/*.json): where its files are and how they are read, the user
 * proxies, the items, the interactions, the filters of the paper's section 4.1 as data, the proxy settings for
 * sampling, the words of the prompt and the official download. Validation here is about the file alone (every
 * error names the file and the key); what depends on the data (a label for a value that never occurs) is checked
 * when the data is read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { domainNameProblem, protoKeyPath, unsafePathReason } from './containment';

export interface TableFile {
  /** File names inside the dataset folder; the first that exists wins (e.g. ["ratings.dat", "ratings.dat.gz"]). */
  names: string[];
  /** Field separator: one or more characters ("\t", ",", "::"). */
  separator: string;
  encoding: 'utf8' | 'latin1';
  /** The first line names the columns (and is skipped). */
  header: boolean;
  /** Column names in file order; the description refers to fields by these names. */
  columns: string[];
  /** A column that may itself contain the separator (a title with "::"): extra fields of a row are joined back into it. */
  joinExtra?: string;
}

export interface AgeGroup {
  label: string;
  /** Inclusive lower bound. */
  min: number;
  /** Exclusive upper bound. */
  max: number;
}

/** One user proxy: a column read as is, through labels, through numeric groups, or derived from another proxy. */
export interface ProxySpec {
  column?: string;
  /** Raw value → display value; raw values not listed (and not in `missing`) are a data error. */
  labels?: Record<string, string>;
  /** Numeric ranges [min, max) → display value; values in no range (or not numbers) count as unknown. */
  groups?: AgeGroup[];
  /** Raw values that mean "unknown" (default: the empty string). */
  missing?: string[];
  /** A proxy computed from another: "continent" maps a country name to its region (the UK its own). */
  derive?: { from: string; kind: 'continent' };
}

export type FilterSpec =
  | { kind: 'dropValues'; proxy: string; values: string[] }
  | { kind: 'keepValues'; proxy: string; values: string[] }
  | { kind: 'minGroupSize'; proxies: string[]; users: number }
  /** items: distinct items of the user; rows: the user's lines (listening events); count: the sum of the count column. */
  | { kind: 'minInteractions'; of: 'items' | 'rows' | 'count'; min: number };

export interface PromptWords {
  /** "movie", "music", "artist" (the paper says "recommend the next 10 movie": the singular is used there too). */
  itemSingular: string;
  /** "movies", "music", "artists". */
  itemPlural: string;
  /** "watch", "listen to". */
  verb: string;
  /** "watched", "listened to". */
  verbPast: string;
  /** What the history is called: "view", "listening". */
  historyNoun: string;
  /** The sentence that introduces the user, per sorted proxy combination joined by "+"; {proxy} and {a} placeholders. */
  demography: Record<string, string>;
  /** Per proxy: value → phrase, "*" the default pattern ({value}). */
  values?: Record<string, Record<string, string>>;
}

export interface DatasetDescription {
  /** The domain name: folder names under data/, the --domains value, part of every sample id and seed. */
  name: string;
  /** What figures and reports call it: "Music (Last.fm-360K)". */
  title: string;
  /** Folder under the data directory holding the files. */
  folder: string;
  files: Record<string, TableFile>;
  users: { file: string; id: string; proxies: Record<string, ProxySpec> };
  /** id and name: a column, or a template of columns ("{track} - {artist}"). */
  items: { file: string; id: string; name: string };
  /** item: the column (or template) whose value is an item's id. */
  interactions: {
    file: string;
    user: string;
    item: string;
    count?: string;
    /** Rows whose count is below this are ignored. */ minCount?: number;
  };
  filters: FilterSpec[];
  settings: Record<string, string[]>;
  prompt: PromptWords;
  download: { url: string; archive: string; archiveMd5: string | null; fileMd5?: Record<string, string> };
}

export class DescriptionError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    detail: string,
  ) {
    super(key ? `${file}: "${key}" ${detail}` : `${file}: ${detail}`);
    this.name = 'DescriptionError';
  }
}

/** Reads and validates a description file. */
export function readDescription(file: string): DatasetDescription {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DescriptionError(file, '', `the dataset description cannot be read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DescriptionError(file, '', `the dataset description is not valid JSON (${(e as Error).message})`);
  }
  return validateDescription(json, file);
}

type Obj = Record<string, unknown>;

/** Validates a parsed description; `file` names it in errors. */
export function validateDescription(json: unknown, file: string): DatasetDescription {
  const fail = (key: string, detail: string): never => {
    throw new DescriptionError(file, key, detail);
  };
  const got = (v: unknown) => (v === undefined ? 'but it is missing' : `got ${JSON.stringify(v)}`);
  const obj = (v: unknown, key: string): Obj =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : fail(key, `must be an object, ${got(v)}`);
  const str = (v: unknown, key: string): string =>
    typeof v === 'string' && v !== '' ? v : fail(key, `must be a non-empty string, ${got(v)}`);
  const strList = (v: unknown, key: string, allowEmpty = true): string[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(key, `must be a list of strings, ${got(v)}`);
    if (!allowEmpty && (v as string[]).length === 0) fail(key, 'must not be empty');
    return v as string[];
  };
  const num = (v: unknown, key: string, min: number): number =>
    typeof v === 'number' && Number.isFinite(v) && v >= min ? v : fail(key, `must be a number >= ${min}, ${got(v)}`);
  const known = (o: Obj, key: string, keys: string[]) => {
    for (const k of Object.keys(o))
      if (!keys.includes(k)) fail(key ? `${key}.${k}` : k, `is not a known key (known here: ${keys.join(', ')})`);
  };
  // `what` says where the name points; a segment is one plain name, a relative path plain names joined by "/".
  const safePath = (p: string, key: string, kind: 'segment' | 'relative', what: string): string => {
    const why = unsafePathReason(p, kind);
    const rule = kind === 'segment' ? 'one plain name (no "/", "\\", "." or "..")' : 'plain names joined by "/"';
    if (why) fail(key, `must be ${rule}: it names ${what}; it ${why}, got ${JSON.stringify(p)}`);
    return p;
  };

  const proto = protoKeyPath(json);
  if (proto !== null) fail(proto, 'is not allowed: "__proto__" is reserved by JavaScript');

  const root = obj(json, '');
  known(root, '', [
    'name',
    'title',
    'folder',
    'files',
    'users',
    'items',
    'interactions',
    'filters',
    'settings',
    'prompt',
    'download',
    'comment',
  ]);
  const name = str(root.name, 'name');
  const nameProblem = domainNameProblem(name);
  if (nameProblem) fail('name', `${nameProblem}, got ${JSON.stringify(name)}`);
  const folder = safePath(str(root.folder, 'folder'), 'folder', 'segment', "the dataset's folder in the data folder");

  const files: Record<string, TableFile> = {};
  for (const [fname, raw] of Object.entries(obj(root.files, 'files'))) {
    const key = `files.${fname}`;
    const f = obj(raw, key);
    known(f, key, ['names', 'separator', 'encoding', 'header', 'columns', 'joinExtra', 'comment']);
    const separator =
      typeof f.separator === 'string'
        ? f.separator
        : fail(`${key}.separator`, `must be a string, got ${JSON.stringify(f.separator)}`);
    if (separator === '' || /[\r\n"]/.test(separator))
      fail(
        `${key}.separator`,
        `must be one or more characters other than line ends and quotes, got ${JSON.stringify(separator)}`,
      );
    const encoding = f.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'latin1')
      fail(`${key}.encoding`, `must be "utf8" or "latin1", got ${JSON.stringify(encoding)}`);
    const header = f.header ?? false;
    if (typeof header !== 'boolean') fail(`${key}.header`, `must be true or false, got ${JSON.stringify(header)}`);
    const columns = strList(f.columns, `${key}.columns`, false);
    const dup = columns.find((c, i) => columns.indexOf(c) !== i);
    if (dup) fail(`${key}.columns`, `names the column "${dup}" twice`);
    if (f.joinExtra !== undefined && !columns.includes(f.joinExtra as string))
      fail(`${key}.joinExtra`, `names "${String(f.joinExtra)}", which is not among the columns ${columns.join(', ')}`);
    files[fname] = {
      names: strList(f.names, `${key}.names`, false).map((n, i) =>
        safePath(n, `${key}.names[${i}]`, 'relative', "a file inside the dataset's folder"),
      ),
      separator,
      encoding: encoding as TableFile['encoding'],
      header: header as boolean,
      columns,
      ...(f.joinExtra !== undefined ? { joinExtra: f.joinExtra as string } : {}),
    };
  }
  const fileRef = (v: unknown, key: string): TableFile & { key: string } => {
    const ref = str(v, key);
    if (!Object.hasOwn(files, ref))
      fail(
        key,
        `names the file "${ref}", which "files" does not describe (described: ${Object.keys(files).join(', ') || 'none'})`,
      );
    return { ...files[ref], key: ref };
  };
  const columnOf = (table: TableFile & { key: string }, v: unknown, key: string): string => {
    const c = str(v, key);
    if (!table.columns.includes(c))
      fail(
        key,
        `names the column "${c}", which files.${table.key}.columns does not have (columns: ${table.columns.join(', ')})`,
      );
    return c;
  };

  const usersRaw = obj(root.users, 'users');
  known(usersRaw, 'users', ['file', 'id', 'proxies']);
  const usersFile = fileRef(usersRaw.file, 'users.file');
  const userId = columnOf(usersFile, usersRaw.id, 'users.id');
  const proxies: Record<string, ProxySpec> = {};
  const proxiesRaw = obj(usersRaw.proxies, 'users.proxies');
  for (const [p, raw] of Object.entries(proxiesRaw)) {
    const key = `users.proxies.${p}`;
    const spec = obj(raw, key);
    known(spec, key, ['column', 'labels', 'groups', 'missing', 'derive']);
    const out: ProxySpec = {};
    if (spec.derive !== undefined) {
      const d = obj(spec.derive, `${key}.derive`);
      known(d, `${key}.derive`, ['from', 'kind']);
      const from = str(d.from, `${key}.derive.from`);
      if (!Object.hasOwn(proxiesRaw, from) || from === p)
        fail(
          `${key}.derive.from`,
          `names "${from}", which is not another proxy of "users.proxies" (proxies: ${Object.keys(proxiesRaw).join(', ')})`,
        );
      if (d.kind !== 'continent')
        fail(`${key}.derive.kind`, `must be "continent" (country name → region), got ${JSON.stringify(d.kind)}`);
      if ((proxiesRaw[from] as Obj | undefined)?.derive !== undefined)
        fail(`${key}.derive.from`, `names "${from}", which is itself derived; derive from a column proxy`);
      if (spec.column !== undefined) fail(`${key}.column`, 'cannot be given together with "derive"');
      out.derive = { from, kind: 'continent' };
    } else out.column = columnOf(usersFile, spec.column, `${key}.column`);
    if (spec.labels !== undefined && spec.groups !== undefined) fail(key, 'has both "labels" and "groups"; give one');
    if (spec.labels !== undefined) {
      const labels = obj(spec.labels, `${key}.labels`);
      for (const [k, v] of Object.entries(labels)) str(v, `${key}.labels.${k}`);
      out.labels = labels as Record<string, string>;
    }
    if (spec.groups !== undefined) {
      if (!Array.isArray(spec.groups) || spec.groups.length === 0)
        fail(`${key}.groups`, 'must be a non-empty list of {"label", "min", "max"}');
      out.groups = (spec.groups as unknown[]).map((g, i) => {
        const gk = `${key}.groups[${i}]`;
        const go = obj(g, gk);
        known(go, gk, ['label', 'min', 'max']);
        const min = num(go.min, `${gk}.min`, -Infinity);
        const max = num(go.max, `${gk}.max`, -Infinity);
        if (!(max > min)) fail(`${gk}.max`, `must be above min (${min}), got ${max}`);
        return { label: str(go.label, `${gk}.label`), min, max };
      });
      const sorted = [...out.groups].sort((a, b) => a.min - b.min);
      for (let i = 1; i < sorted.length; i++)
        if (sorted[i].min < sorted[i - 1].max)
          fail(`${key}.groups`, `ranges "${sorted[i - 1].label}" and "${sorted[i].label}" overlap`);
    }
    if (spec.missing !== undefined) out.missing = strList(spec.missing, `${key}.missing`);
    proxies[p] = out;
  }

  const itemsRaw = obj(root.items, 'items');
  known(itemsRaw, 'items', ['file', 'id', 'name']);
  const itemsFile = fileRef(itemsRaw.file, 'items.file');
  const template = (table: TableFile & { key: string }, v: unknown, key: string): string => {
    const t = str(v, key);
    for (const c of nameColumns(t)) columnOf(table, c, key);
    return t;
  };
  const itemId = template(itemsFile, itemsRaw.id, 'items.id');
  const itemName = template(itemsFile, itemsRaw.name, 'items.name');

  const interRaw = obj(root.interactions, 'interactions');
  known(interRaw, 'interactions', ['file', 'user', 'item', 'count', 'minCount']);
  const interFile = fileRef(interRaw.file, 'interactions.file');
  if (interFile.key === usersFile.key) fail('interactions.file', 'must differ from "users.file"');
  if (itemsFile.key !== interFile.key && itemsFile.key === usersFile.key)
    fail('items.file', 'must be the interactions file or a file of its own, not the users file');
  const interactions: DatasetDescription['interactions'] = {
    file: interFile.key,
    user: columnOf(interFile, interRaw.user, 'interactions.user'),
    item: template(interFile, interRaw.item, 'interactions.item'),
  };
  if (itemsFile.key === interFile.key && interactions.item !== itemId)
    fail(
      'interactions.item',
      `must be the same as "items.id" (${JSON.stringify(itemId)}) when items come from the interactions file`,
    );
  if (interRaw.count !== undefined) interactions.count = columnOf(interFile, interRaw.count, 'interactions.count');
  if (interRaw.minCount !== undefined) {
    if (interactions.count === undefined)
      fail('interactions.minCount', 'needs "interactions.count" (the column it applies to)');
    interactions.minCount = num(interRaw.minCount, 'interactions.minCount', 0);
  }

  const proxyNames = Object.keys(proxies);
  const proxyRef = (v: unknown, key: string): string => {
    const p = str(v, key);
    if (!Object.hasOwn(proxies, p))
      fail(key, `names the proxy "${p}", which "users.proxies" does not define (proxies: ${proxyNames.join(', ')})`);
    return p;
  };
  if (!Array.isArray(root.filters)) fail('filters', `must be a list of filters, got ${JSON.stringify(root.filters)}`);
  const filters: FilterSpec[] = (root.filters as unknown[]).map((raw, i) => {
    const key = `filters[${i}]`;
    const f = obj(raw, key);
    switch (f.kind) {
      case 'dropValues':
      case 'keepValues':
        known(f, key, ['kind', 'proxy', 'values']);
        return {
          kind: f.kind,
          proxy: proxyRef(f.proxy, `${key}.proxy`),
          values: strList(f.values, `${key}.values`, false),
        };
      case 'minGroupSize':
        known(f, key, ['kind', 'proxies', 'users']);
        return {
          kind: 'minGroupSize',
          proxies: strList(f.proxies, `${key}.proxies`, false).map((p, j) => proxyRef(p, `${key}.proxies[${j}]`)),
          users: num(f.users, `${key}.users`, 1),
        };
      case 'minInteractions': {
        known(f, key, ['kind', 'of', 'min']);
        if (f.of !== 'items' && f.of !== 'rows' && f.of !== 'count')
          fail(
            `${key}.of`,
            `must be "items" (distinct items per user), "rows" (lines per user) or "count" (sum of the count column), got ${JSON.stringify(f.of)}`,
          );
        if (f.of === 'count' && interactions.count === undefined)
          fail(`${key}.of`, 'is "count" but "interactions.count" names no count column');
        return { kind: 'minInteractions', of: f.of as 'items' | 'rows' | 'count', min: num(f.min, `${key}.min`, 0) };
      }
      default:
        return fail(
          `${key}.kind`,
          `must be one of dropValues, keepValues, minGroupSize, minInteractions; got ${JSON.stringify(f.kind)}`,
        );
    }
  });

  const settings: Record<string, string[]> = {};
  for (const [s, raw] of Object.entries(obj(root.settings, 'settings')))
    settings[s] = strList(raw, `settings.${s}`).map((p, j) => proxyRef(p, `settings.${s}[${j}]`));
  if (Object.keys(settings).length === 0) fail('settings', 'must define at least one setting (e.g. "none": [])');

  const promptRaw = obj(root.prompt, 'prompt');
  known(promptRaw, 'prompt', ['itemSingular', 'itemPlural', 'verb', 'verbPast', 'historyNoun', 'demography', 'values']);
  const demography: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(promptRaw.demography, 'prompt.demography'))) {
    const key = `prompt.demography.${k}`;
    const sentence = str(v, key);
    const parts = k.split('+');
    for (const p of parts) proxyRef(p, key);
    if ([...parts].sort().join('+') !== k)
      fail(key, `must name its proxies sorted and joined by "+" ("${[...parts].sort().join('+')}")`);
    for (const m of sentence.matchAll(/\{(\w+)\}/g))
      if (m[1] !== 'a' && !parts.includes(m[1]))
        fail(key, `uses the placeholder {${m[1]}}, which is not among its proxies ${parts.join(', ')}`);
    demography[k] = sentence;
  }
  for (const [s, ps] of Object.entries(settings)) {
    const k = [...ps].sort().join('+');
    if (k !== '' && !Object.hasOwn(demography, k))
      fail(`prompt.demography`, `has no sentence for "${k}", which the setting "${s}" needs`);
  }
  const values: Record<string, Record<string, string>> = {};
  if (promptRaw.values !== undefined) {
    for (const [p, raw] of Object.entries(obj(promptRaw.values, 'prompt.values'))) {
      proxyRef(p, `prompt.values.${p}`);
      const forms = obj(raw, `prompt.values.${p}`);
      for (const [k, v] of Object.entries(forms)) str(v, `prompt.values.${p}.${k}`);
      values[p] = forms as Record<string, string>;
    }
  }
  const prompt: PromptWords = {
    itemSingular: str(promptRaw.itemSingular, 'prompt.itemSingular'),
    itemPlural: str(promptRaw.itemPlural, 'prompt.itemPlural'),
    verb: str(promptRaw.verb, 'prompt.verb'),
    verbPast: str(promptRaw.verbPast, 'prompt.verbPast'),
    historyNoun: str(promptRaw.historyNoun, 'prompt.historyNoun'),
    demography,
    values,
  };

  const dl = obj(root.download, 'download');
  known(dl, 'download', ['url', 'archive', 'archiveMd5', 'fileMd5', 'comment']);
  if (dl.archiveMd5 !== null && !(typeof dl.archiveMd5 === 'string' && /^[0-9a-f]{32}$/.test(dl.archiveMd5)))
    fail(
      'download.archiveMd5',
      `must be 32 lower-case hex digits or null (unknown), got ${JSON.stringify(dl.archiveMd5)}`,
    );
  const download: DatasetDescription['download'] = {
    url: str(dl.url, 'download.url'),
    archive: safePath(str(dl.archive, 'download.archive'), 'download.archive', 'segment', 'the archive in data/raw'),
    archiveMd5: dl.archiveMd5 as string | null,
  };
  if (dl.fileMd5 !== undefined) {
    const m = obj(dl.fileMd5, 'download.fileMd5');
    for (const [k, v] of Object.entries(m))
      if (!(typeof v === 'string' && /^[0-9a-f]{32}$/.test(v)))
        fail(`download.fileMd5.${k}`, `must be 32 lower-case hex digits, got ${JSON.stringify(v)}`);
    download.fileMd5 = m as Record<string, string>;
  }

  return {
    name,
    title: root.title === undefined ? name : str(root.title, 'title'),
    folder,
    files,
    users: { file: usersFile.key, id: userId, proxies },
    items: { file: itemsFile.key, id: itemId, name: itemName },
    interactions,
    filters,
    settings,
    prompt,
    download,
  };
}

/** The columns a display-name template refers to: "{track} - {artist}" → track, artist; a bare column name → itself. */
export function nameColumns(template: string): string[] {
  const refs = [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]);
  return refs.length ? refs : [template];
}

/** Where the built-in domains' descriptions live, relative to the repository root. */
export const BUILTIN_DESCRIPTIONS: Readonly<Record<string, string>> = {
  movielens: 'datasets/movielens.json',
  lastfm: 'datasets/lastfm-1k.json',
};

const cache = new Map<string, { mtimeMs: number; description: DatasetDescription }>();

/** readDescription, cached per absolute path and modification time (the prompt renderer asks once per prompt). */
export function cachedDescription(file: string): DatasetDescription {
  const abs = path.resolve(file);
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(abs).mtimeMs;
  } catch (e) {
    throw new DescriptionError(abs, '', `the dataset description cannot be read: ${(e as Error).message}`);
  }
  const hit = cache.get(abs);
  if (hit && hit.mtimeMs === mtimeMs) return hit.description;
  const description = readDescription(abs);
  cache.set(abs, { mtimeMs, description });
  titles.set(description.name, description.title);
  return description;
}

const titles = new Map<string, string>();

/**
 * What figures call a domain: the title of its description (the built-in ones, or any read in this process), else
 * null. Figures get a domain name only, so the titles read so far are remembered here.
 */
export function domainTitleOf(domain: string, root: string): string | null {
  if (!titles.has(domain) && Object.hasOwn(BUILTIN_DESCRIPTIONS, domain))
    cachedDescription(path.join(root, BUILTIN_DESCRIPTIONS[domain]));
  return titles.get(domain) ?? null;
}
