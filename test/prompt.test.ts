import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, repoRoot, type DomainName } from '../lib/core/config';
import {
  PROMPT_TEMPLATES,
  pythonList,
  pythonRepr,
  renderDemography,
  renderPrompt,
  renderPromptText,
} from '../lib/query/prompt';
import { parseAnswer } from '../lib/query/parse-answer';
import type { SampleRecord, Setup } from '../lib/core/types';

const config = loadConfig({ env: {} });

/** The paper's Appendix A.1 sample, with the MovieLens-1M ids of its titles (titles exactly as the paper prints them). */
const PAPER_HISTORY: [string, string][] = [
  ['1912', 'Out of Sight (1998)'],
  ['1727', 'Horse Whisperer, The (1998)'],
  ['1196', 'Star Wars: Episode V - The Empire Strikes Back (1980)'],
  ['1837', 'Odd Couple II, The (1998)'],
  ['3551', 'Marathon Man (1976)'],
];
const PAPER_CANDIDATES: [string, string][] = [
  ['2205', 'Mr. & Mrs. Smith (1941)'],
  ['2076', 'Blue Velvet (1986)'],
  ['3532', 'Freedom for Us (À nous la liberté) (1931)'],
  ['80', 'White Balloon, The (Badkonake Sefid) (1995)'],
  ['397', 'Fear, The (1995)'],
  ['2032', 'Barefoot Executive, The (1971)'],
  ['737', 'Barb Wire (1996)'],
  ['2078', 'Jungle Book, The (1967)'],
  ['2571', 'Matrix, The (1999)'],
  ['2486', '24-hour Woman (1998)'],
  ['6', 'Heat (1995)'],
  ['1079', 'Fish Called Wanda, A (1988)'],
  ['780', 'Independence Day (ID4) (1996)'],
  ['3203', 'Dead Calm (1989)'],
  ['3838', 'Phantasm III: Lord of the Dead (1994)'],
  ['946', 'To Be or Not to Be (1942)'],
  ['1961', 'Rain Man (1988)'],
  ['3572', 'Carnosaur (1993)'],
  ['1285', 'Heathers (1989)'],
  ['906', 'Gaslight (1944)'],
  ['2689', 'Get Bruce (1999)'],
  ['1350', 'Omen, The (1976)'],
  ['1031', 'Bedknobs and Broomsticks (1971)'],
  ['1011', 'Herbie Rides Again (1974)'],
  ['3373', 'Buck and the Preacher (1972)'],
  ['720', 'Wallace & Gromit: The Best of Aardman Animation (1996)'],
  ['1976', 'Friday the 13th Part 3: 3D (1982)'],
  ['3040', 'Meatballs (1979)'],
  ['429', 'Cabin Boy (1994)'],
  ['1503', '8 Heads in a Duffel Bag (1997)'],
  ['3267', 'Mariachi, El (1992)'],
  ['3952', 'Contender, The (2000)'],
  ['381', 'When a Man Loves a Woman (1994)'],
  ['1904', 'Henry Fool (1997)'],
  ['2174', 'Beetlejuice (1988)'],
  ['3949', 'Requiem for a Dream (2000)'],
  ['2780', 'Raven, The (1963)'],
  ['1223', 'Grand Day Out, A (1992)'],
  ['278', 'Miami Rhapsody (1995)'],
  ['328', 'Tales From the Crypt Presents: Demon Knight (1995)'],
  ['2578', 'Sticky Fingers of Time, The (1997)'],
  ['1885', 'Opposite of Sex, The (1998)'],
  ['2028', 'Saving Private Ryan (1998)'],
  ['370', 'Naked Gun 33 1/3: The Final Insult (1994)'],
  ['882', 'Trigger Effect, The (1996)'],
  ['2569', 'Among Giants (1998)'],
  ['3033', 'Spaceballs (1987)'],
  ['1165', 'Bloody Child, The (1996)'],
  ['594', 'Snow White and the Seven Dwarfs (1937)'],
  ['2212', 'Man Who Knew Too Much, The (1934)'],
];
const NAMES = new Map([...PAPER_HISTORY, ...PAPER_CANDIDATES]);
const itemName = (id: string): string => {
  const name = NAMES.get(id);
  if (name === undefined) throw new Error(`no name for ${id}`);
  return name;
};

/** Appendix A.1, copied from the paper. */
const PAPER_SYSTEM = `AI Rules

- Output response as a Python list only.
- Do not output any extra text.
- Do not wrap the response in Python markers.
- Do not assign the list to any variable.
- List values in double-quotes.`;
const PAPER_USER = `You are proficient in recommending new movie for users to watch based on their background, previous view history, or a combination of both.

The user is a 25-34 years old Male clerical/admin.

The user has previously watched the following movies: ['Out of Sight (1998)', 'Horse Whisperer, The (1998)', 'Star Wars: Episode V - The Empire Strikes Back (1980)', 'Odd Couple II, The (1998)', 'Marathon Man (1976)'].

From the candidates listed below, recommend the next 10 movie for the user to watch based on the user's background, previous view history, or a combination of both.

Format your response as a Python list of item names. The list must be ranked from the most likely to the least likely movie.

Candidates: ['Mr. & Mrs. Smith (1941)', 'Blue Velvet (1986)', 'Freedom for Us (À nous la liberté) (1931)', 'White Balloon, The (Badkonake Sefid) (1995)', 'Fear, The (1995)', 'Barefoot Executive, The (1971)', 'Barb Wire (1996)', 'Jungle Book, The (1967)', 'Matrix, The (1999)', '24-hour Woman (1998)', 'Heat (1995)', 'Fish Called Wanda, A (1988)', 'Independence Day (ID4) (1996)', 'Dead Calm (1989)', 'Phantasm III: Lord of the Dead (1994)', 'To Be or Not to Be (1942)', 'Rain Man (1988)', 'Carnosaur (1993)', 'Heathers (1989)', 'Gaslight (1944)', 'Get Bruce (1999)', 'Omen, The (1976)', 'Bedknobs and Broomsticks (1971)', 'Herbie Rides Again (1974)', 'Buck and the Preacher (1972)', 'Wallace & Gromit: The Best of Aardman Animation (1996)', 'Friday the 13th Part 3: 3D (1982)', 'Meatballs (1979)', 'Cabin Boy (1994)', '8 Heads in a Duffel Bag (1997)', 'Mariachi, El (1992)', 'Contender, The (2000)', 'When a Man Loves a Woman (1994)', 'Henry Fool (1997)', 'Beetlejuice (1988)', 'Requiem for a Dream (2000)', 'Raven, The (1963)', 'Grand Day Out, A (1992)', 'Miami Rhapsody (1995)', 'Tales From the Crypt Presents: Demon Knight (1995)', 'Sticky Fingers of Time, The (1997)', 'Opposite of Sex, The (1998)', 'Saving Private Ryan (1998)', 'Naked Gun 33 1/3: The Final Insult (1994)', 'Trigger Effect, The (1996)', 'Among Giants (1998)', 'Spaceballs (1987)', 'Bloody Child, The (1996)', 'Snow White and the Seven Dwarfs (1937)', 'Man Who Knew Too Much, The (1934)']`;

function sample(over: Partial<SampleRecord>): SampleRecord {
  return {
    v: 1,
    id: 's1',
    domain: 'movielens',
    setup: 'A',
    proxy: 'all',
    demography: { age: '25-34', gender: 'Male', occupation: 'clerical/admin' },
    history: PAPER_HISTORY.map(([id]) => id),
    candidates: PAPER_CANDIDATES.map(([id]) => id),
    target: PAPER_CANDIDATES.map(() => 1 / PAPER_CANDIDATES.length),
    targetEntropy: Math.log2(50),
    groupSize: 40,
    drawId: 'd1',
    seed: 'x',
    ...over,
  };
}

function userParagraphs(s: SampleRecord, domain: DomainName = 'movielens', names = itemName): string[] {
  const [, user] = renderPrompt(s, names, config, domain);
  return user.content.split('\n\n');
}

test('the movie prompt of setup A reproduces Appendix A.1 character by character', () => {
  const messages = renderPrompt(sample({}), itemName, config, 'movielens');
  assert.equal(messages.length, 2);
  assert.deepEqual(messages[0], { role: 'system', content: PAPER_SYSTEM });
  assert.equal(messages[1].role, 'user');
  assert.equal(messages[1].content, PAPER_USER);
});

test('the rendered prompt equals the text of the paper file itself, when the paper is present', (t) => {
  const file = path.resolve(repoRoot(), '..', 'shared', 'paper', '000_b436b36ef9e01daa.txt');
  if (!fs.existsSync(file)) {
    t.skip(`paper text not found at ${file}`);
    return;
  }
  const paper = fs.readFileSync(file, 'utf8');
  const start = paper.indexOf('AI Rules');
  const candidates = paper.indexOf('Candidates: [', start);
  const end = paper.indexOf('\n', candidates);
  const messages = renderPrompt(sample({}), itemName, config, 'movielens');
  assert.equal(`${messages[0].content}\n\n${messages[1].content}`, paper.slice(start, end));
});

test('setup B has no demography sentence, setup C no history sentence, and C without a proxy has neither', () => {
  const a = userParagraphs(sample({}));
  assert.equal(a.length, 6);
  const b = userParagraphs(sample({ setup: 'B', proxy: 'none', demography: {} }));
  assert.deepEqual(b, [a[0], a[2], a[3], a[4], a[5]]);
  // Even if a record carries demography, setup B never shows it.
  assert.deepEqual(userParagraphs(sample({ setup: 'B' })), b);
  const c = userParagraphs(sample({ setup: 'C', history: [] }));
  assert.deepEqual(c, [a[0], a[1], a[3], a[4], a[5]]);
  const cNone = userParagraphs(sample({ setup: 'C', proxy: 'none', demography: {}, history: [] }));
  assert.deepEqual(cNone, [a[0], a[3], a[4], a[5]]);
  assert.ok(!cNone.some((p) => p.startsWith('The user')));
});

test('movie demography sentences for each proxy and for partial combinations', () => {
  const sentence = (demography: Record<string, string>) =>
    userParagraphs(sample({ setup: 'C', history: [], demography }))[1];
  assert.equal(sentence({ age: '25-34' }), 'The user is 25-34 years old.');
  assert.equal(sentence({ age: 'Under 18' }), 'The user is under 18 years old.');
  assert.equal(sentence({ age: '56+' }), 'The user is 56 or more years old.');
  assert.equal(sentence({ gender: 'Female' }), 'The user is a Female.');
  assert.equal(sentence({ occupation: 'retired' }), "The user's occupation is retired.");
  assert.equal(sentence({ occupation: 'clerical/admin' }), "The user's occupation is clerical/admin.");
  // Insertion order of the record does not matter: the paper's order is age, gender, occupation.
  assert.equal(
    sentence({ occupation: 'artist', gender: 'Female', age: '18-24' }),
    'The user is an 18-24 years old Female artist.',
  );
  assert.equal(
    sentence({ age: 'Under 18', gender: 'Male', occupation: 'K-12 student' }),
    'The user is an under 18 years old Male K-12 student.',
  );
  assert.equal(
    sentence({ age: '56+', gender: 'Male', occupation: 'retired' }),
    'The user is a 56 or more years old Male retired.',
  );
  assert.equal(
    sentence({ age: '45-49', occupation: 'executive/managerial' }),
    'The user is a 45-49 years old executive/managerial.',
  );
  assert.equal(sentence({ gender: 'Male', occupation: 'unemployed' }), 'The user is a Male unemployed.');
});

const TRACKS: [string, string][] = [
  ['t1', 'Bohemian Rhapsody - Queen'],
  ['t2', 'Comfortably Numb - Pink Floyd'],
  ['t3', "Don't Stop Me Now - Queen"],
  ['t4', 'Say "Hello" - Some Band'],
  ['t5', 'Karma Police - Radiohead'],
];
const trackName = (id: string): string => new Map(TRACKS).get(id) as string;

function musicSample(over: Partial<SampleRecord>): SampleRecord {
  return sample({
    domain: 'lastfm',
    proxy: 'gender+country',
    demography: { gender: 'Male', country: 'Germany' },
    history: ['t1', 't2'],
    candidates: ['t3', 't4', 't5'],
    target: [0.5, 0.5, 0],
    ...over,
  });
}

test('the music prompt has the same shape, with "Track - Artist" items', () => {
  const [system, user] = renderPrompt(musicSample({}), trackName, config, 'lastfm');
  assert.equal(system.content, PAPER_SYSTEM);
  assert.equal(
    user.content,
    [
      'You are proficient in recommending new music for users to listen to based on their background, previous listening history, or a combination of both.',
      'The user is a Male from Germany.',
      "The user has previously listened to the following music: ['Bohemian Rhapsody - Queen', 'Comfortably Numb - Pink Floyd'].",
      "From the candidates listed below, recommend the next 10 music for the user to listen to based on the user's background, previous listening history, or a combination of both.",
      'Format your response as a Python list of item names. The list must be ranked from the most likely to the least likely music.',
      `Candidates: ["Don't Stop Me Now - Queen", 'Say "Hello" - Some Band', 'Karma Police - Radiohead']`,
    ].join('\n\n'),
  );
});

test('music demography sentences: gender, country, continent and their combinations', () => {
  const sentence = (demography: Record<string, string>) =>
    userParagraphs(musicSample({ setup: 'C', history: [], demography }), 'lastfm', trackName)[1];
  assert.equal(sentence({ continent: 'North America' }), 'The user is from North America.');
  assert.equal(sentence({ continent: 'United Kingdom' }), 'The user is from the United Kingdom.');
  assert.equal(sentence({ country: 'United States' }), 'The user is from the United States.');
  assert.equal(sentence({ country: 'Poland' }), 'The user is from Poland.');
  assert.equal(sentence({ gender: 'Female' }), 'The user is a Female.');
  assert.equal(sentence({ gender: 'Female', continent: 'Europe' }), 'The user is a Female from Europe.');
});

test('every proxy setting in the default configuration has a demography sentence', () => {
  for (const domain of Object.keys(config.sample.settings) as DomainName[]) {
    for (const [setting, proxies] of Object.entries(config.sample.settings[domain])) {
      const demography = Object.fromEntries(proxies.map((p) => [p, 'X']));
      const text = renderDemography(demography, PROMPT_TEMPLATES[domain], domain);
      if (proxies.length === 0) assert.equal(text, null, `${domain}/${setting}`);
      else {
        assert.ok(text && /^The user/.test(text) && text.endsWith('.'), `${domain}/${setting}: ${text}`);
        assert.ok(!/[{}]/.test(text), `${domain}/${setting} left a placeholder: ${text}`);
      }
    }
  }
});

test('an unknown proxy combination and a domain mismatch are clear errors', () => {
  assert.throws(
    () => renderPrompt(sample({ demography: { zodiac: 'Leo' } }), itemName, config, 'movielens'),
    /no sentence for the proxies "zodiac"; known: .*age\+gender\+occupation/,
  );
  assert.throws(() => renderPrompt(sample({}), itemName, config, 'lastfm'), /domain "movielens", not "lastfm"/);
});

test('topN comes from the configuration', () => {
  const five = loadConfig({ env: {}, overrides: { query: { topN: 5 } } });
  const [, user] = renderPrompt(sample({}), itemName, five, 'movielens');
  assert.match(user.content, /recommend the next 5 movie for the user/);
  assert.doesNotMatch(user.content, /next 10 movie/);
});

test('names are quoted as Python repr() quotes them', () => {
  // Expected values are what CPython 3 prints for repr() of each string.
  assert.equal(pythonRepr('Matrix, The (1999)'), "'Matrix, The (1999)'");
  assert.equal(pythonRepr("Schindler's List (1993)"), `"Schindler's List (1993)"`);
  assert.equal(pythonRepr('Say "Hi"'), `'Say "Hi"'`);
  assert.equal(pythonRepr(`It's "x"`), `'It\\'s "x"'`);
  assert.equal(pythonRepr('a\\b'), "'a\\\\b'");
  assert.equal(pythonRepr('tab\there'), "'tab\\there'");
  assert.equal(pythonRepr('Fré À'), "'Fré À'");
  assert.equal(pythonRepr('zero\u200bwidth'), "'zero\\u200bwidth'");
  assert.equal(pythonRepr('nb\u00a0sp'), "'nb\\xa0sp'");
  assert.equal(pythonList([]), '[]');
  assert.equal(pythonList(['a', "b'c"]), `['a', "b'c"]`);
});

test('quoted names round-trip through the answer parser', () => {
  const names = [
    "Schindler's List (1993)",
    'Say "Hi" - Band',
    `It's "Complicated" - Someone`,
    'Back\\slash - X',
    'Freedom for Us (À nous la liberté ) (1931)',
    'Plain - Y',
  ];
  const candidates = names.map((name, i) => ({ id: `c${i}`, name }));
  const order = [3, 0, 5, 2, 1, 4];
  const { ranked, diagnostics } = parseAnswer(pythonList(order.map((i) => names[i])), candidates, 6);
  assert.deepEqual(
    ranked,
    order.map((i) => `c${i}`),
  );
  assert.deepEqual(
    diagnostics.matchKinds,
    order.map(() => 'exact'),
  );
  assert.deepEqual(diagnostics.unmatched, []);
});

test('renderPromptText shows each message under its role', () => {
  const text = renderPromptText(
    renderPrompt(sample({ setup: 'C' as Setup, history: [] }), itemName, config, 'movielens'),
  );
  assert.ok(text.startsWith('[system]\nAI Rules\n'));
  assert.ok(text.includes('\n\n[user]\nYou are proficient'));
});
