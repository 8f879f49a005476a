/**
 * Reads a model's answer as a ranked list of candidate ids. Models return Python lists, JSON, code fences, numbered
 * lines and prose; titles come back re-punctuated, with articles moved, without the year, or slightly misspelt.
 * Strings are mapped to candidates exactly, then by a normalised key, then by a conservative fuzzy match within the
 * candidate list. Nothing is invented: what cannot be matched is reported, never filled in.
 */
import { distance } from 'fastest-levenshtein';
import type { ParseDiagnostics } from '../core/types';

export interface Candidate {
  id: string;
  name: string;
}

export interface ExtractedList {
  entries: string[];
  format: 'python' | 'json' | 'lines' | 'none';
  truncated: boolean;
}

/** Minimum similarity (1 − edit distance / longer length, on normalised titles) for a fuzzy match. */
export const FUZZY_THRESHOLD = 0.85;

// ---------- reading the list out of the text ----------

const OPEN_QUOTES = new Set(["'", '"', '\u2018', '\u201c']);
const CLOSE_OF: Record<string, string> = { "'": "'", '"': '"', '\u2018': '\u2019', '\u201c': '\u201d' };

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i])) i++;
  return i;
}

/**
 * Whether the quote at `i` closes the string: what follows must end an element (`,` then another element or the end,
 * `]`, or the end of the text). Otherwise it is taken as an unescaped apostrophe inside the name ('Schindler's List').
 */
function closesString(text: string, i: number, inList: boolean): boolean {
  let j = skipSpace(text, i + 1);
  if (j >= text.length) return true;
  const c = text[j];
  if (c === ']') return true;
  if (c === ',') {
    j = skipSpace(text, j + 1);
    return (
      j >= text.length || OPEN_QUOTES.has(text[j]) || text[j] === ']' || text[j] === '{' || isStringPrefix(text, j)
    );
  }
  if (!inList && text[i + 1] === '\n') return true;
  return false;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '/': '/',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '\n': '',
};

/** Reads a quoted string at `i` (Python or JSON escapes). Returns null value when the text ends inside it. */
function readString(text: string, i: number, inList: boolean): { value: string; end: number; complete: boolean } {
  const close = CLOSE_OF[text[i]];
  let out = '';
  let j = i + 1;
  while (j < text.length) {
    const ch = text[j];
    if (ch === '\\' && j + 1 < text.length) {
      const e = text[j + 1];
      if (e in SIMPLE_ESCAPES) {
        out += SIMPLE_ESCAPES[e];
        j += 2;
        continue;
      }
      const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      const hex = hexLen ? text.slice(j + 2, j + 2 + hexLen) : '';
      if (hexLen && hex.length === hexLen && /^[0-9a-fA-F]+$/.test(hex)) {
        out += String.fromCodePoint(parseInt(hex, 16));
        j += 2 + hexLen;
        continue;
      }
      out += ch + e; // Python keeps unknown escapes as written
      j += 2;
      continue;
    }
    if (ch === close && closesString(text, j, inList)) return { value: out, end: j + 1, complete: true };
    out += ch;
    j++;
  }
  return { value: out, end: j, complete: false };
}

/** A Python string prefix (u'...', r'...', b'...') right before a quote. */
function isStringPrefix(text: string, j: number): boolean {
  return j + 1 < text.length && /[uUrRbB]/.test(text[j]) && OPEN_QUOTES.has(text[j + 1]);
}

const PREFERRED_FIELDS = ['title', 'name', 'item', 'movie', 'track', 'song', 'recommendation'];

function objectToName(o: unknown): string | null {
  if (typeof o === 'string') return o;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec))
    if (PREFERRED_FIELDS.includes(k.toLowerCase()) && typeof rec[k] === 'string') return rec[k] as string;
  const first = Object.values(rec).find((v) => typeof v === 'string');
  return (first as string | undefined) ?? null;
}

/** A JSON array of objects ([{"title": ...}, ...]) starting at `i`; null if there is none. */
function readJsonObjects(text: string, i: number): ExtractedList | null {
  for (let close = text.indexOf(']', i); close >= 0; close = text.indexOf(']', close + 1)) {
    try {
      const arr = JSON.parse(text.slice(i, close + 1)) as unknown;
      if (!Array.isArray(arr)) return null;
      const entries = arr.map(objectToName).filter((s): s is string => s !== null);
      return entries.length ? { entries, format: 'json', truncated: false } : null;
    } catch {
      // not yet a complete array; try the next closing bracket
    }
  }
  return null;
}

/**
 * A list of quoted strings starting at `i` (at '[' or, with `bracket` false, at the first quote). Tolerates a trailing
 * comma, comments or stray text between elements, and a list cut off mid-way.
 */
function readQuotedList(text: string, i: number, bracket: boolean): ExtractedList | null {
  let j = bracket ? skipSpace(text, i + 1) : i;
  if (j < text.length && text[j] === '{') return readJsonObjects(text, i);
  const first = isStringPrefix(text, j) ? j + 1 : j;
  if (first >= text.length || !OPEN_QUOTES.has(text[first])) return null;
  const entries: string[] = [];
  for (;;) {
    j = skipSpace(text, j);
    if (j >= text.length) return { entries, format: 'python', truncated: bracket };
    const c = text[j];
    if (c === ']') return { entries, format: 'python', truncated: false };
    if (OPEN_QUOTES.has(c)) {
      const s = readString(text, j, bracket);
      if (!s.complete) return { entries, format: 'python', truncated: true };
      entries.push(s.value);
      j = s.end;
      continue;
    }
    if (c === ',') {
      j++;
      continue;
    }
    if (isStringPrefix(text, j)) {
      j++;
      continue;
    }
    if (!bracket && c === '\n') return { entries, format: 'python', truncated: false };
    // Stray text (a comment, an unquoted word): skip to the next separator.
    while (j < text.length && text[j] !== ',' && text[j] !== ']' && !(!bracket && text[j] === '\n')) j++;
  }
}

const BULLET = /^\s*(?:\d{1,3}[.)]|\(\d{1,3}\)|[-*•·–—+])\s+(.*\S)\s*$/;

function cleanLine(s: string): string {
  let t = s.replace(/\*\*|__|`/g, '').trim();
  t = t.replace(/[,;]+$/, '').trim();
  const q = t[0];
  if (q && OPEN_QUOTES.has(q) && t.length >= 2 && t[t.length - 1] === CLOSE_OF[q]) t = t.slice(1, -1);
  return t.trim();
}

/** Finds the answer's list: a quoted or JSON list (first one holding strings), else bulleted or numbered lines. */
export function extractList(raw: string): ExtractedList {
  // Code fences only wrap the list; drop the markers and read what is inside and around them.
  const text = raw.replace(/\r\n?/g, '\n').replace(/```[\w+-]*/g, '\n');
  for (let i = text.indexOf('['); i >= 0; i = text.indexOf('[', i + 1)) {
    const list = readQuotedList(text, i, true);
    if (list && list.entries.length > 0) return list;
  }
  const trimmed = skipSpace(text, 0);
  if (trimmed < text.length && OPEN_QUOTES.has(text[trimmed])) {
    const list = readQuotedList(text, trimmed, false);
    if (list && list.entries.length > 1) return list;
  }
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const m = BULLET.exec(line);
    if (m) {
      const entry = cleanLine(m[1]);
      if (entry) lines.push(entry);
    }
  }
  if (lines.length) return { entries: lines, format: 'lines', truncated: false };
  return { entries: [], format: 'none', truncated: false };
}

// ---------- normalised keys ----------

/** Lower case, no accents, "&" as "and", no apostrophes, other punctuation as spaces, single spaces. */
export function normalizeText(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/['\u2018\u2019`\u00b4]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

const TRAILING_ARTICLE =
  /^(.*\S),\s*(the|a|an|el|la|le|les|l'|il|lo|los|las|die|der|das|den|det|de|het|een|ein|eine)$/i;
const LEADING_ENGLISH_ARTICLE = /^(?:the|a|an) /;

interface TitleParts {
  /** Main title with a trailing article moved to the front ("Matrix, The" → "The Matrix"). */
  main: string;
  /** Parenthesised alternative titles between the main title and the year ("(Badkonake Sefid)"). */
  alt: string;
  year: string | null;
}

function splitTitle(name: string): TitleParts {
  let rest = name.trim();
  let year: string | null = null;
  const y = /\s*\((\d{4})\)\s*$/.exec(rest);
  if (y) {
    year = y[1];
    rest = rest.slice(0, y.index);
  }
  let alt = '';
  for (let m = /\s*(\([^()]*\))\s*$/.exec(rest); m && m.index > 0; m = /\s*(\([^()]*\))\s*$/.exec(rest)) {
    alt = `${m[1]} ${alt}`;
    rest = rest.slice(0, m.index);
  }
  const a = TRAILING_ARTICLE.exec(rest.trim());
  const main = a ? (a[2].endsWith("'") ? `${a[2]}${a[1]}` : `${a[2]} ${a[1]}`) : rest;
  return { main, alt: alt.trim(), year };
}

function key(text: string): string {
  return normalizeText(text).replace(LEADING_ENGLISH_ARTICLE, '');
}

/** Match levels: 1 the whole name, 2 a variant (no alternative title, artist/track swapped), 3 a part (no year, no artist). */
type Level = 1 | 2 | 3;

interface KeyHit {
  candidate: number;
  level: Level;
}

function candidateKeys(name: string): { key: string; level: Level }[] {
  const out: { key: string; level: Level }[] = [];
  const t = splitTitle(name);
  const year = t.year ? ` ${t.year}` : '';
  out.push({ key: key(`${t.main} ${t.alt}${year}`), level: 1 });
  if (t.alt) out.push({ key: key(`${t.main}${year}`), level: 2 });
  if (t.year) {
    out.push({ key: key(`${t.main} ${t.alt}`), level: 3 });
    if (t.alt) out.push({ key: key(t.main), level: 3 });
  } else {
    // "Track - Artist": also known as "Artist - Track", "Track by Artist", or the track alone. Split at every " - "
    // because track names contain dashes too ("Song - Live").
    const parts = name.split(' - ');
    for (let p = 1; p < parts.length; p++) {
      const track = parts.slice(0, p).join(' - ');
      const artist = parts.slice(p).join(' - ');
      out.push({ key: key(`${artist} ${track}`), level: 2 });
      out.push({ key: key(`${track} by ${artist}`), level: 2 });
      out.push({ key: key(track), level: 3 });
    }
  }
  return out.filter((k) => k.key !== '');
}

function entryKeys(entry: string): string[] {
  const t = splitTitle(entry);
  const year = t.year ? ` ${t.year}` : '';
  const keys = [key(`${t.main} ${t.alt}${year}`)];
  if (t.alt) keys.push(key(`${t.main}${year}`));
  return keys.filter((k) => k !== '');
}

const ROMAN = /^(?=[ivxl])(l?x{0,3})(ix|iv|v?i{0,3})$/;
const ROMAN_VALUES: Record<string, number> = { i: 1, v: 5, x: 10, l: 50 };

function romanValue(s: string): number {
  let total = 0;
  for (let k = 0; k < s.length; k++) {
    const v = ROMAN_VALUES[s[k]];
    const next = ROMAN_VALUES[s[k + 1]] ?? 0;
    total += v < next ? -v : v;
  }
  return total;
}

/** Numbers and roman numerals in a key, sorted: sequels differ here ("Episode V" vs "Episode VI", "33 1/3" vs "2 1/2"). */
function numberSignature(k: string): string {
  const nums: number[] = [];
  for (const tok of k.split(' ')) {
    if (/^\d+$/.test(tok)) nums.push(Number(tok));
    else if (ROMAN.test(tok)) nums.push(romanValue(tok));
  }
  return nums.sort((a, b) => a - b).join(',');
}

interface FuzzyKey {
  key: string;
  numbers: string;
}

/** Exact names up front; the normalised and fuzzy keys are built only when some entry is not an exact name. */
class CandidateIndex {
  readonly exact = new Map<string, number[]>();
  private built = false;
  private readonly keyHits = new Map<string, KeyHit[]>();
  private readonly fuzzyKeys: { year: string | null; keys: FuzzyKey[] }[] = [];

  constructor(readonly candidates: Candidate[]) {
    candidates.forEach((c, idx) => {
      const name = c.name.trim();
      const list = this.exact.get(name);
      if (list) list.push(idx);
      else this.exact.set(name, [idx]);
    });
  }

  private build(): void {
    if (this.built) return;
    this.built = true;
    this.candidates.forEach((c, idx) => {
      const all = candidateKeys(c.name);
      for (const k of all) {
        const hits = this.keyHits.get(k.key) ?? [];
        if (!hits.some((h) => h.candidate === idx && h.level <= k.level)) hits.push({ candidate: idx, level: k.level });
        this.keyHits.set(k.key, hits);
      }
      const t = splitTitle(c.name);
      const fk = t.year ? [key(`${t.main} ${t.alt}`), key(t.main)] : all.filter((k) => k.level < 3).map((k) => k.key);
      this.fuzzyKeys.push({
        year: t.year,
        keys: [...new Set(fk)].filter((k) => k !== '').map((k) => ({ key: k, numbers: numberSignature(k) })),
      });
    });
  }

  get keys(): Map<string, KeyHit[]> {
    this.build();
    return this.keyHits;
  }

  get fuzzy(): { year: string | null; keys: FuzzyKey[] }[] {
    this.build();
    return this.fuzzyKeys;
  }
}

type Match = { candidate: number; kind: 'exact' | 'normalized' | 'fuzzy' } | null;

/** The single candidate at the best level among the keys' hits; null when none or when two candidates tie there. */
function lookupKeys(index: CandidateIndex, keys: string[], maxLevel: Level): number | null {
  let best: Level | 4 = 4;
  let found = new Set<number>();
  for (const k of keys) {
    for (const h of index.keys.get(k) ?? []) {
      if (h.level > maxLevel) continue;
      if (h.level < best) {
        best = h.level;
        found = new Set([h.candidate]);
      } else if (h.level === best) found.add(h.candidate);
    }
  }
  return found.size === 1 ? [...found][0] : null;
}

const ENUMERATION = /^\s*(?:\d{1,3}[.)]|[-*•])\s+/;
const EXPLANATION_SEPARATOR = /\s+[-–—:]\s+|:\s+|\s+\(/g;

function matchNormalized(index: CandidateIndex, entry: string): number | null {
  const stripped = entry.replace(ENUMERATION, '');
  const whole = lookupKeys(index, [...entryKeys(entry), ...entryKeys(stripped)], 3);
  if (whole !== null) return whole;
  // "Matrix, The (1999) - a classic": the longest head that is a whole candidate name (never a part of one, so
  // "Track - Other Artist" does not become "Track - Artist").
  const cuts = [...stripped.matchAll(EXPLANATION_SEPARATOR)].map((m) => m.index as number).sort((a, b) => b - a);
  for (const cut of cuts) {
    const head = stripped.slice(0, cut);
    const hit = lookupKeys(index, entryKeys(head), 2);
    if (hit !== null) return hit;
  }
  return null;
}

function matchFuzzy(index: CandidateIndex, entry: string): number | null {
  const t = splitTitle(entry.replace(ENUMERATION, ''));
  const entryKeysNoYear = [...new Set([key(`${t.main} ${t.alt}`), key(t.main)])].filter((k) => k !== '');
  let best = -1;
  let bestSim = 0;
  let runnerUp = 0;
  index.fuzzy.forEach((c, idx) => {
    if (t.year && c.year && t.year !== c.year) return;
    let sim = 0;
    for (const ek of entryKeysNoYear) {
      const numbers = numberSignature(ek);
      for (const ck of c.keys) {
        if (ck.numbers !== numbers) continue;
        const longer = Math.max(ek.length, ck.key.length);
        const s = 1 - distance(ek, ck.key) / longer;
        if (s > sim) sim = s;
      }
    }
    if (sim > bestSim) {
      runnerUp = bestSim;
      bestSim = sim;
      best = idx;
    } else if (sim > runnerUp) runnerUp = sim;
  });
  // Two candidates close to the entry: it is not clear which one was meant, so neither.
  if (bestSim >= FUZZY_THRESHOLD && runnerUp < FUZZY_THRESHOLD) return best;
  return null;
}

function matchEntry(index: CandidateIndex, entry: string): Match {
  const exact = index.exact.get(entry.trim());
  if (exact && exact.length === 1) return { candidate: exact[0], kind: 'exact' };
  const normalized = matchNormalized(index, entry);
  if (normalized !== null) return { candidate: normalized, kind: 'normalized' };
  const fuzzy = matchFuzzy(index, entry);
  if (fuzzy !== null) return { candidate: fuzzy, kind: 'fuzzy' };
  return null;
}

/**
 * The answer as candidate ids in rank order (at most topN), with diagnostics: entries that matched no candidate,
 * candidates named twice, too few or too many entries, a cut-off list. Only the first topN valid picks are kept.
 */
export function parseAnswer(
  raw: string,
  candidates: { id: string; name: string }[],
  topN: number,
): { ranked: string[]; diagnostics: ParseDiagnostics } {
  const list = extractList(raw);
  const entries = list.entries.map((e) => e.trim()).filter((e) => e !== '');
  const index = new CandidateIndex(candidates);
  const picks: string[] = [];
  const kinds: ParseDiagnostics['matchKinds'] = [];
  const picked = new Set<number>();
  const unmatched: string[] = [];
  const duplicates: string[] = [];
  for (const entry of entries) {
    const m = matchEntry(index, entry);
    if (m === null) unmatched.push(entry);
    else if (picked.has(m.candidate)) duplicates.push(candidates[m.candidate].id);
    else {
      picked.add(m.candidate);
      picks.push(candidates[m.candidate].id);
      kinds.push(m.kind);
    }
  }
  const ranked = picks.slice(0, topN);
  return {
    ranked,
    diagnostics: {
      returned: entries.length,
      unmatched,
      duplicates,
      matchKinds: kinds.slice(0, topN),
      tooFew: ranked.length < topN,
      tooMany: entries.length > topN,
      unparseable: entries.length === 0,
      format: entries.length === 0 ? 'none' : list.format,
      truncated: list.truncated,
      beyondTopN: picks.slice(topN),
    },
  };
}
