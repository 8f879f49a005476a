/** Last.fm-1K userid-profile.tsv: header `#id gender age country registered`, tab-separated, one line per user. */
import * as fs from 'node:fs';
import { DataFormatError } from '../datasets';
import * as path from 'node:path';
import { utf8BomLength } from '../../core/io';
import { repoRoot } from '../../core/config';
import { BUILTIN_DESCRIPTIONS, cachedDescription, DescriptionError } from '../../core/description';

export interface LastfmProfile {
  id: string;
  /** The label datasets/lastfm-1k.json gives the gender code ("Male", "Female"), null when empty. */
  gender: string | null;
  age: number | null;
  country: string | null;
  registered: string | null;
}

const PROFILE_FIELDS = ['id', 'gender', 'age', 'country', 'registered'];

/** Gender code → label, from the built-in description (read when a profile file is first parsed). */
function genderLabels(): Record<string, string> {
  const file = path.join(repoRoot(), BUILTIN_DESCRIPTIONS.lastfm);
  const labels = cachedDescription(file).users.proxies.gender?.labels;
  if (!labels) throw new DescriptionError(file, 'users.proxies.gender.labels', 'must give the label of each gender code (the built-in lastfm parser reads codes)');
  return labels;
}

export function parseLastfmProfiles(file: string, data: Buffer = fs.readFileSync(file)): LastfmProfile[] {
  const text = data.toString('utf8', utf8BomLength(data));
  if (text.length === 0) throw new DataFormatError(file, null, null, `the file is empty (expected the header #${PROFILE_FIELDS.join('\\t')} and one line per user)`);
  const lastHasNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (lastHasNewline) lines.pop();
  const out: LastfmProfile[] = [];
  const seen = new Set<string>();
  const genders = genderLabels();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const hint = i === lines.length - 1 && !lastHasNewline ? ' (the last line has no line end: the file may be truncated)' : '';
    if (i === 0 && line.startsWith('#')) {
      const header = line.slice(1).split('\t');
      if (header.length !== 5 || header[0] !== 'id') {
        throw new DataFormatError(file, 1, null, `expected the header "#id\\tgender\\tage\\tcountry\\tregistered" (tab-separated), got ${JSON.stringify(line.slice(0, 80))}`);
      }
      continue;
    }
    if (line === '') throw new DataFormatError(file, lineNo, null, `empty line (expected id\\tgender\\tage\\tcountry\\tregistered)${hint}`);
    const f = line.split('\t');
    if (f.length < 5) {
      const sep = f.length === 1 && line.includes(',') ? ', found comma-separated text (expected tabs)' : '';
      throw new DataFormatError(file, lineNo, PROFILE_FIELDS[f.length], `missing: expected 5 tab-separated fields, found ${f.length}${sep}${hint}`);
    }
    if (f.length > 5) throw new DataFormatError(file, lineNo, null, `expected 5 tab-separated fields, found ${f.length}`);
    const [id, g, age, country, registered] = f;
    if (id === '') throw new DataFormatError(file, lineNo, 'id', 'expected a user id, got an empty field');
    if (seen.has(id)) throw new DataFormatError(file, lineNo, 'id', `user ${id} appears twice`);
    seen.add(id);
    if (g !== '' && !Object.hasOwn(genders, g)) throw new DataFormatError(file, lineNo, 'gender', `expected ${Object.keys(genders).map((k) => JSON.stringify(k)).join(', ')} or empty, got ${JSON.stringify(g)}`);
    if (age !== '' && !/^\d+$/.test(age)) throw new DataFormatError(file, lineNo, 'age', `expected a whole number or empty, got ${JSON.stringify(age)}`);
    out.push({
      id,
      gender: g === '' ? null : genders[g],
      age: age === '' ? null : Number(age),
      country: country.trim() === '' ? null : country.trim(),
      registered: registered === '' ? null : registered,
    });
  }
  return out;
}
