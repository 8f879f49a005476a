/**
 * MovieLens-1M raw files: `::`-separated, latin-1. users.dat (UserID::Gender::Age::Occupation::Zip-code),
 * movies.dat (MovieID::Title::Genres), ratings.dat or ratings.dat.gz (UserID::MovieID::Rating[::Timestamp]).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DataFormatError } from './datasets';
import { utf8BomLength } from '../core/io';
import { repoRoot } from '../core/config';
import { BUILTIN_DESCRIPTIONS, cachedDescription, DescriptionError } from '../core/description';

/** The value labels of datasets/movielens.json: the hand-written parser reads codes, the description names them. */
const LABELS = (() => {
  const file = path.join(repoRoot(), BUILTIN_DESCRIPTIONS.movielens);
  const proxies = cachedDescription(file).users.proxies;
  const labelsOf = (proxy: string): Record<string, string> => {
    const labels = proxies[proxy]?.labels;
    if (!labels) throw new DescriptionError(file, `users.proxies.${proxy}.labels`, 'must give the label of each code (the built-in movielens parser reads codes)');
    return labels;
  };
  const occupation = labelsOf('occupation');
  // Occupations are codes 0..n-1, looked up by index.
  const codes = Object.keys(occupation);
  codes.forEach((k, i) => {
    if (k !== String(i)) throw new DescriptionError(file, 'users.proxies.occupation.labels', `must list the codes 0, 1, 2, … in order (the built-in movielens parser indexes them), found "${k}" at position ${i}`);
  });
  return { age: labelsOf('age'), gender: labelsOf('gender'), occupation: codes.map((k) => occupation[k]) };
})();

/** Age codes of the dataset README → labels (from the description). */
export const ML_AGE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(LABELS.age).map(([k, v]) => [Number(k), v]));

/** Occupation codes 0-20 of the dataset README (0 is '"other" or not specified') → labels (from the description). */
export const ML_OCCUPATION_NAMES: readonly string[] = LABELS.occupation;

export const ML_GENDER_NAMES: Readonly<Record<string, string>> = LABELS.gender;

export interface MlUser {
  id: number;
  /** A code of the description's gender labels ("M", "F"). */
  gender: string;
  /** Age code (1, 18, 25, 35, 45, 50, 56). */
  age: number;
  /** Occupation code 0-20. */
  occupation: number;
  zip: string;
}

export interface MlMovie {
  id: number;
  /** Raw title as in the file, decoded from latin-1: "Matrix, The (1999)". */
  title: string;
  genres: string;
}

export interface MlRatings {
  /** Per rating: index into the users array given to the parser. */
  user: Int32Array;
  /** Per rating: index into the movies array given to the parser. */
  movie: Int32Array;
  count: number;
  /** Lines with / without the Timestamp field. */
  withTimestamp: number;
  withoutTimestamp: number;
}

/** Reads a file, gunzipping `.gz`; a damaged gzip stream is reported as a truncated or corrupt file. */
export function readMaybeGzip(file: string): Buffer {
  const raw = fs.readFileSync(file);
  if (!file.endsWith('.gz')) return raw;
  try {
    return zlib.gunzipSync(raw);
  } catch (e) {
    throw new DataFormatError(file, null, null, `not a complete gzip file (${(e as Error).message}); it may be truncated: download or copy it again`);
  }
}

/** Splits decoded text into lines, checking the file is not empty; returns lines without their line ends. */
function textLines(file: string, text: string, expected: string): { lines: string[]; lastHasNewline: boolean } {
  if (text.length === 0) throw new DataFormatError(file, null, null, `the file is empty (expected lines of ${expected})`);
  const lastHasNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (lastHasNewline) lines.pop();
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith('\r')) lines[i] = lines[i].slice(0, -1);
  return { lines, lastHasNewline };
}

function truncationHint(isLast: boolean, lastHasNewline: boolean): string {
  return isLast && !lastHasNewline ? ' (the last line has no line end: the file may be truncated)' : '';
}

/** Splits one `::` line into exactly the named fields (or between min and max), with precise errors. */
function splitFields(file: string, lineNo: number, line: string, names: string[], minFields: number, hint: string): string[] {
  const format = names.map((n, i) => (i >= minFields ? `[::${n}]` : i === 0 ? n : `::${n}`)).join('');
  if (line.trim() === '') throw new DataFormatError(file, lineNo, null, `empty line (expected ${format})${hint}`);
  const parts = line.split('::');
  if (parts.length === 1) {
    const sep = line.includes('\t') ? 'tab' : line.includes(',') ? 'comma' : line.includes(';') ? 'semicolon' : line.includes(':') ? 'single colon' : null;
    throw new DataFormatError(file, lineNo, null, `expected fields separated by "::" (${format})${sep ? `, found ${sep}-separated text` : ', found no separator'}: ${JSON.stringify(line.slice(0, 80))}${hint}`);
  }
  if (parts.length < minFields) {
    throw new DataFormatError(file, lineNo, names[parts.length], `missing (expected ${format}, found ${parts.length} field${parts.length === 1 ? '' : 's'})${hint}`);
  }
  if (parts.length > names.length) {
    throw new DataFormatError(file, lineNo, null, `expected at most ${names.length} fields (${format}), found ${parts.length}${hint}`);
  }
  return parts;
}

function wholeNumber(file: string, lineNo: number, field: string, value: string, hint: string): number {
  if (!/^\d+$/.test(value)) throw new DataFormatError(file, lineNo, field, `expected a whole number, got ${JSON.stringify(value)}${hint}`);
  return Number(value);
}

export function parseMlUsers(file: string, data: Buffer = readMaybeGzip(file)): MlUser[] {
  const names = ['UserID', 'Gender', 'Age', 'Occupation', 'Zip-code'];
  const { lines, lastHasNewline } = textLines(file, data.toString('latin1', utf8BomLength(data)), names.join('::'));
  const users: MlUser[] = [];
  const seen = new Set<number>();
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    const hint = truncationHint(i === lines.length - 1, lastHasNewline);
    const f = splitFields(file, lineNo, line, names, 5, hint);
    const id = wholeNumber(file, lineNo, 'UserID', f[0], hint);
    if (seen.has(id)) throw new DataFormatError(file, lineNo, 'UserID', `user ${id} appears twice`);
    seen.add(id);
    if (!Object.hasOwn(ML_GENDER_NAMES, f[1])) throw new DataFormatError(file, lineNo, 'Gender', `expected ${Object.keys(ML_GENDER_NAMES).map((g) => JSON.stringify(g)).join(' or ')}, got ${JSON.stringify(f[1])}${hint}`);
    const age = wholeNumber(file, lineNo, 'Age', f[2], hint);
    if (!(age in ML_AGE_NAMES)) throw new DataFormatError(file, lineNo, 'Age', `expected one of the age codes ${Object.keys(ML_AGE_NAMES).join(', ')}, got ${age}`);
    const occupation = wholeNumber(file, lineNo, 'Occupation', f[3], hint);
    if (occupation >= ML_OCCUPATION_NAMES.length) throw new DataFormatError(file, lineNo, 'Occupation', `expected a code 0-${ML_OCCUPATION_NAMES.length - 1}, got ${occupation}`);
    users.push({ id, gender: f[1], age, occupation, zip: f[4] });
  });
  return users;
}

export function parseMlMovies(file: string, data: Buffer = readMaybeGzip(file)): MlMovie[] {
  const names = ['MovieID', 'Title', 'Genres'];
  const { lines, lastHasNewline } = textLines(file, data.toString('latin1', utf8BomLength(data)), names.join('::'));
  const movies: MlMovie[] = [];
  const seen = new Set<number>();
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    const hint = truncationHint(i === lines.length - 1, lastHasNewline);
    if (line.trim() === '') throw new DataFormatError(file, lineNo, null, `empty line (expected MovieID::Title::Genres)${hint}`);
    // A title could itself contain "::", so the id ends at the first separator and the genres start after the last.
    const first = line.indexOf('::');
    const last = line.lastIndexOf('::');
    if (first < 0) splitFields(file, lineNo, line, names, 3, hint);
    if (first === last) throw new DataFormatError(file, lineNo, 'Genres', `missing (expected MovieID::Title::Genres, found 2 fields)${hint}`);
    const id = wholeNumber(file, lineNo, 'MovieID', line.slice(0, first), hint);
    if (seen.has(id)) throw new DataFormatError(file, lineNo, 'MovieID', `movie ${id} appears twice`);
    seen.add(id);
    const title = line.slice(first + 2, last);
    if (title === '') throw new DataFormatError(file, lineNo, 'Title', 'expected a title, got an empty field');
    movies.push({ id, title, genres: line.slice(last + 2) });
  });
  return movies;
}

function idLookup(ids: number[]): Int32Array {
  let max = 0;
  for (const id of ids) if (id > max) max = id;
  const table = new Int32Array(max + 1).fill(-1);
  ids.forEach((id, i) => {
    table[id] = i;
  });
  return table;
}

/**
 * Parses ratings from bytes (about a million lines), resolving users and movies to indices of the given arrays.
 * Valid lines take a byte-level fast path; any irregular line is re-read as text to explain what is wrong.
 */
export function parseMlRatings(file: string, users: MlUser[], movies: MlMovie[], data: Buffer = readMaybeGzip(file)): MlRatings {
  if (data.length === 0) throw new DataFormatError(file, null, null, 'the file is empty (expected lines of UserID::MovieID::Rating[::Timestamp])');
  const userOf = idLookup(users.map((u) => u.id));
  const movieOf = idLookup(movies.map((m) => m.id));
  let capacity = (data.length >> 3) + 16;
  let userArr = new Int32Array(capacity);
  let movieArr = new Int32Array(capacity);
  let n = 0;
  let withTs = 0;
  let withoutTs = 0;
  let lineNo = 0;
  const len = data.length;
  let pos = utf8BomLength(data);
  while (pos < len) {
    lineNo++;
    let end = data.indexOf(10, pos);
    const hasNewline = end >= 0;
    if (!hasNewline) end = len;
    let e = end;
    if (e > pos && data[e - 1] === 13) e--;
    let p = pos;
    let ok = true;
    let uid = 0;
    const u0 = p;
    while (p < e && data[p] >= 48 && data[p] <= 57) uid = uid * 10 + data[p++] - 48;
    if (p === u0 || p + 1 >= e || data[p] !== 58 || data[p + 1] !== 58) ok = false;
    p += 2;
    let mid = 0;
    const m0 = p;
    if (ok) {
      while (p < e && data[p] >= 48 && data[p] <= 57) mid = mid * 10 + data[p++] - 48;
      if (p === m0 || p + 1 >= e || data[p] !== 58 || data[p + 1] !== 58) ok = false;
      p += 2;
    }
    let rating = 0;
    if (ok) {
      const r0 = p;
      while (p < e && data[p] >= 48 && data[p] <= 57) rating = rating * 10 + data[p++] - 48;
      if (p === r0 || rating < 1 || rating > 5) ok = false;
    }
    if (ok) {
      if (p === e) withoutTs++;
      else if (p + 2 < e && data[p] === 58 && data[p + 1] === 58) {
        p += 2;
        while (p < e && data[p] >= 48 && data[p] <= 57) p++;
        if (p !== e) ok = false;
        else withTs++;
      } else ok = false;
    }
    if (!ok) explainRatingLine(file, lineNo, data.toString('latin1', pos, e), !hasNewline);
    const ui = uid < userOf.length ? userOf[uid] : -1;
    if (ui < 0) throw new DataFormatError(file, lineNo, 'UserID', `unknown user ${uid}: not in users.dat${!hasNewline ? ' (the last line has no line end: the file may be truncated)' : ''}`);
    const mi = mid < movieOf.length ? movieOf[mid] : -1;
    if (mi < 0) throw new DataFormatError(file, lineNo, 'MovieID', `unknown movie ${mid}: not in movies.dat${!hasNewline ? ' (the last line has no line end: the file may be truncated)' : ''}`);
    if (n === capacity) {
      capacity *= 2;
      const nu = new Int32Array(capacity);
      nu.set(userArr);
      userArr = nu;
      const nm = new Int32Array(capacity);
      nm.set(movieArr);
      movieArr = nm;
    }
    userArr[n] = ui;
    movieArr[n] = mi;
    n++;
    pos = end + 1;
  }
  return { user: userArr.subarray(0, n), movie: movieArr.subarray(0, n), count: n, withTimestamp: withTs, withoutTimestamp: withoutTs };
}

/** Throws the precise error for a ratings line the fast path rejected. */
function explainRatingLine(file: string, lineNo: number, line: string, isTruncatedLast: boolean): never {
  const hint = isTruncatedLast ? ' (the last line has no line end: the file may be truncated)' : '';
  const names = ['UserID', 'MovieID', 'Rating', 'Timestamp'];
  const f = splitFields(file, lineNo, line, names, 3, hint);
  wholeNumber(file, lineNo, 'UserID', f[0], hint);
  wholeNumber(file, lineNo, 'MovieID', f[1], hint);
  const r = wholeNumber(file, lineNo, 'Rating', f[2], hint);
  if (r < 1 || r > 5) throw new DataFormatError(file, lineNo, 'Rating', `expected a whole number of stars 1-5, got ${r}`);
  if (f.length === 4) wholeNumber(file, lineNo, 'Timestamp', f[3], hint);
  throw new DataFormatError(file, lineNo, null, `cannot read ${JSON.stringify(line.slice(0, 80))} as UserID::MovieID::Rating[::Timestamp]${hint}`);
}

export interface MlRaw {
  users: MlUser[];
  movies: MlMovie[];
  ratings: MlRatings;
}

export function readMovielens(files: Record<string, string>): MlRaw {
  const users = parseMlUsers(files.users);
  const movies = parseMlMovies(files.movies);
  const ratings = parseMlRatings(files.ratings, users, movies);
  return { users, movies, ratings };
}
