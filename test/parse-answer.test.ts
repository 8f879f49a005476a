import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractList, normalizeText, parseAnswer } from '../lib/query/parse-answer';
import { pythonList } from '../lib/query/prompt';

/** Real MovieLens-1M ids and titles, exactly as movies.dat has them (note the space in "liberté )"). */
const MOVIES: [string, string][] = [
  ['2571', 'Matrix, The (1999)'],
  ['720', 'Wallace & Gromit: The Best of Aardman Animation (1996)'],
  ['3532', 'Freedom for Us (À nous la liberté ) (1931)'],
  ['370', 'Naked Gun 33 1/3: The Final Insult (1994)'],
  ['1503', '8 Heads in a Duffel Bag (1997)'],
  ['594', 'Snow White and the Seven Dwarfs (1937)'],
  ['1196', 'Star Wars: Episode V - The Empire Strikes Back (1980)'],
  ['1210', 'Star Wars: Episode VI - Return of the Jedi (1983)'],
  ['527', "Schindler's List (1993)"],
  ['2389', 'Psycho (1998)'],
  ['6', 'Heat (1995)'],
  ['780', 'Independence Day (ID4) (1996)'],
  ['80', 'White Balloon, The (Badkonake Sefid ) (1995)'],
  ['3267', 'Mariachi, El (1992)'],
  ['1079', 'Fish Called Wanda, A (1988)'],
  ['2205', 'Mr. & Mrs. Smith (1941)'],
  ['1976', 'Friday the 13th Part 3: 3D (1982)'],
  ['2486', '24-hour Woman (1998)'],
  ['3033', 'Spaceballs (1987)'],
  ['2174', 'Beetlejuice (1988)'],
  ['1961', 'Rain Man (1988)'],
  ['2028', 'Saving Private Ryan (1998)'],
];
const CANDIDATES = MOVIES.map(([id, name]) => ({ id, name }));
const idOf = (name: string): string => {
  const hit = MOVIES.find(([, n]) => n === name);
  if (!hit) throw new Error(name);
  return hit[0];
};
const TEN = MOVIES.slice(0, 10).map(([, n]) => n);
const TEN_IDS = TEN.map(idOf);

test('a Python list with single quotes, as the prompt shows them, matches exactly', () => {
  const { ranked, diagnostics } = parseAnswer(pythonList(TEN), CANDIDATES, 10);
  assert.deepEqual(ranked, TEN_IDS);
  assert.deepEqual(diagnostics.matchKinds, Array(10).fill('exact'));
  assert.deepEqual(diagnostics.unmatched, []);
  assert.deepEqual(diagnostics.duplicates, []);
  assert.equal(diagnostics.returned, 10);
  assert.equal(diagnostics.tooFew, false);
  assert.equal(diagnostics.tooMany, false);
  assert.equal(diagnostics.unparseable, false);
  assert.equal(diagnostics.truncated, false);
  assert.equal(diagnostics.format, 'python');
});

test('a JSON list with double quotes (as the AI Rules ask)', () => {
  const { ranked, diagnostics } = parseAnswer(JSON.stringify(TEN), CANDIDATES, 10);
  assert.deepEqual(ranked, TEN_IDS);
  assert.equal(
    diagnostics.matchKinds.every((k) => k === 'exact'),
    true,
  );
});

test("escaped apostrophes, and unescaped ones inside single quotes ('Schindler's List')", () => {
  const escaped = parseAnswer(`['Schindler\\'s List (1993)', 'Heat (1995)']`, CANDIDATES, 10);
  assert.deepEqual(escaped.ranked, ['527', '6']);
  assert.deepEqual(escaped.diagnostics.unmatched, []);
  const bare = parseAnswer(`['Schindler's List (1993)', 'Heat (1995)', 'Rain Man (1988)']`, CANDIDATES, 10);
  assert.deepEqual(bare.ranked, ['527', '6', '1961']);
  assert.deepEqual(bare.diagnostics.matchKinds, ['exact', 'exact', 'exact']);
  const json = parseAnswer(`["Schindler's List (1993)", "Mr. & Mrs. Smith (1941)"]`, CANDIDATES, 10);
  assert.deepEqual(json.ranked, ['527', '2205']);
  const smart = parseAnswer(`[‘Heat (1995)’, ‘Schindler’s List (1993)’]`, CANDIDATES, 10);
  assert.deepEqual(smart.ranked, ['6', '527']);
});

test('a list inside a code fence, with prose around it', () => {
  const raw = `Sure! Based on the user's history, here are my picks:\n\n\`\`\`python\n${JSON.stringify(TEN, null, 2)}\n\`\`\`\n\nI hope the user enjoys them [all of them].`;
  const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
  assert.deepEqual(ranked, TEN_IDS);
  assert.deepEqual(diagnostics.unmatched, []);
  const assigned = parseAnswer(`recommendations = ['Heat (1995)', 'Spaceballs (1987)']`, CANDIDATES, 10);
  assert.deepEqual(assigned.ranked, ['6', '3033']);
});

test('a trailing comma and Python string prefixes are accepted', () => {
  assert.deepEqual(parseAnswer(`['Heat (1995)', 'Spaceballs (1987)',]`, CANDIDATES, 10).ranked, ['6', '3033']);
  assert.deepEqual(parseAnswer(`[u'Heat (1995)', u"Schindler's List (1993)"]`, CANDIDATES, 10).ranked, ['6', '527']);
});

test('numbered and bulleted lines, with markdown and short explanations', () => {
  const numbered = [
    'Here are 4 movies:',
    '1. Matrix, The (1999)',
    '2) **Heat (1995)** - a tense crime epic',
    '3. "Spaceballs (1987)"',
    '4. Star Wars: Episode V - The Empire Strikes Back (1980): the best sequel',
  ].join('\n');
  const n = parseAnswer(numbered, CANDIDATES, 10);
  assert.deepEqual(n.ranked, ['2571', '6', '3033', '1196']);
  assert.equal(n.diagnostics.format, 'lines');
  assert.equal(n.diagnostics.returned, 4);
  assert.deepEqual(n.diagnostics.unmatched, []);
  const bulleted = '- Beetlejuice (1988)\n* Rain Man (1988)\n• 24-hour Woman (1998)';
  assert.deepEqual(parseAnswer(bulleted, CANDIDATES, 10).ranked, ['2174', '1961', '2486']);
});

test('a list cut off mid-way keeps its complete entries and says it was truncated', () => {
  const raw = `['Heat (1995)', 'Spaceballs (1987)', 'Snow White and the Se`;
  const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
  assert.deepEqual(ranked, ['6', '3033']);
  assert.equal(diagnostics.truncated, true);
  assert.equal(diagnostics.tooFew, true);
  assert.equal(diagnostics.returned, 2);
  assert.deepEqual(diagnostics.unmatched, []);
  const noBracket = parseAnswer(`['Heat (1995)', 'Spaceballs (1987)'`, CANDIDATES, 10);
  assert.deepEqual(noBracket.ranked, ['6', '3033']);
  assert.equal(noBracket.diagnostics.truncated, true);
});

test('normalised matches: articles, punctuation, case, accents, missing year, alternative titles', () => {
  const answers: [string, string][] = [
    ['The Matrix (1999)', '2571'],
    ['Wallace and Gromit: The Best of Aardman Animation (1996)', '720'],
    ['Freedom for Us (A nous la liberte) (1931)', '3532'],
    ['Naked Gun 33 1/3: The Final Insult', '370'],
    ['8 HEADS IN A DUFFEL BAG (1997)', '1503'],
    ['Snow White & the Seven Dwarfs (1937)', '594'],
    ['The White Balloon (1995)', '80'],
    ['El Mariachi (1992)', '3267'],
    ['A Fish Called Wanda', '1079'],
    ['Independence Day (1996)', '780'],
    ['Schindlers List (1993)', '527'],
  ];
  const { ranked, diagnostics } = parseAnswer(pythonList(answers.map(([s]) => s)), CANDIDATES, 20);
  assert.deepEqual(
    ranked,
    answers.map(([, id]) => id),
  );
  assert.deepEqual(diagnostics.matchKinds, Array(answers.length).fill('normalized'));
  assert.deepEqual(diagnostics.unmatched, []);
});

test('a fuzzy near-miss matches; a different film, sequel or remake does not', () => {
  const raw = pythonList([
    'Star Wars: Episode V - The Empire Strikes Bak (1980)', // typo → Episode V, not VI
    'Star Wars: Episode IV - A New Hope (1977)', // another film of the series: not a candidate
    'Naked Gun 2 1/2: The Smell of Fear, The (1991)', // another sequel: not "33 1/3"
    'Psycho (1960)', // the original, while the candidate is the 1998 remake
    'Beetlejuice 2', // no such candidate
    'Saving Privat Ryan (1998)', // typo
  ]);
  const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
  assert.deepEqual(ranked, ['1196', '2028']);
  assert.deepEqual(diagnostics.matchKinds, ['fuzzy', 'fuzzy']);
  assert.deepEqual(diagnostics.unmatched, [
    'Star Wars: Episode IV - A New Hope (1977)',
    'Naked Gun 2 1/2: The Smell of Fear, The (1991)',
    'Psycho (1960)',
    'Beetlejuice 2',
  ]);
  // With both sequels among the candidates, each title goes to its own film.
  const both = parseAnswer(
    `["Star Wars: Episode VI - Return of the Jedi (1983)", "Star Wars: Episode V: The Empire Strikes Back (1980)"]`,
    CANDIDATES,
    10,
  );
  assert.deepEqual(both.ranked, ['1210', '1196']);
});

test('a fuzzy match close to two candidates is left unmatched rather than guessed', () => {
  const twins = [
    { id: 'a', name: 'Halloween 4: The Return (1988)' },
    { id: 'b', name: 'Halloween 4: The Returns (1988)' },
  ];
  const { ranked, diagnostics } = parseAnswer(`['Halloween 4: The Retrun (1988)']`, twins, 10);
  assert.deepEqual(ranked, []);
  assert.deepEqual(diagnostics.unmatched, ['Halloween 4: The Retrun (1988)']);
});

test('items outside the candidates (e.g. the history) are recorded as unmatched, never substituted', () => {
  const raw = pythonList(['Out of Sight (1998)', 'Heat (1995)', 'Marathon Man (1976)']);
  const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
  assert.deepEqual(ranked, ['6']);
  assert.deepEqual(diagnostics.unmatched, ['Out of Sight (1998)', 'Marathon Man (1976)']);
  assert.equal(diagnostics.returned, 3);
  assert.equal(diagnostics.tooFew, true);
});

test('a candidate named twice (also in another spelling) is kept once, at its first rank', () => {
  const raw = pythonList([
    'Heat (1995)',
    'Matrix, The (1999)',
    'The Matrix (1999)',
    'Heat (1995)',
    'Spaceballs (1987)',
    'Saving Privat Ryan (1998)',
    'Saving Private Ryan (1998)',
  ]);
  const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
  assert.deepEqual(ranked, ['6', '2571', '3033', '2028']);
  assert.deepEqual(diagnostics.duplicates, ['2571', '6', '2028']);
  assert.deepEqual(diagnostics.matchKinds, ['exact', 'exact', 'exact', 'fuzzy']);
  assert.equal(diagnostics.returned, 7);
});

test('more than topN entries: only the first topN valid picks are kept, the rest reported', () => {
  const twelve = MOVIES.slice(0, 12).map(([, n]) => n);
  const withJunk = [twelve[0], 'Not A Real Film (2001)', ...twelve.slice(1)];
  const { ranked, diagnostics } = parseAnswer(pythonList(withJunk), CANDIDATES, 10);
  assert.deepEqual(ranked, twelve.slice(0, 10).map(idOf));
  assert.deepEqual(diagnostics.beyondTopN, twelve.slice(10).map(idOf));
  assert.equal(diagnostics.returned, 13);
  assert.equal(diagnostics.tooMany, true);
  assert.equal(diagnostics.tooFew, false);
  assert.equal(diagnostics.matchKinds.length, 10);
  assert.deepEqual(diagnostics.unmatched, ['Not A Real Film (2001)']);
});

test('fewer than topN: nothing is filled in', () => {
  const { ranked, diagnostics } = parseAnswer(pythonList(TEN.slice(0, 3)), CANDIDATES, 10);
  assert.deepEqual(ranked, TEN_IDS.slice(0, 3));
  assert.equal(diagnostics.tooFew, true);
  assert.equal(diagnostics.tooMany, false);
});

test('an answer without a list is unparseable', () => {
  for (const raw of ['', 'I am sorry, but I cannot recommend movies.', '[]', 'Here: [1, 2, 3]']) {
    const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
    assert.deepEqual(ranked, [], raw);
    assert.equal(diagnostics.unparseable, true, raw);
    assert.equal(diagnostics.format, 'none', raw);
    assert.equal(diagnostics.tooFew, true, raw);
  }
});

test('a JSON array of objects', () => {
  const raw = '[{"title": "Heat (1995)", "reason": "crime"}, {"title": "Rain Man (1988)", "reason": "drama"}]';
  const { ranked, diagnostics } = parseAnswer(raw, CANDIDATES, 10);
  assert.deepEqual(ranked, ['6', '1961']);
  assert.equal(diagnostics.format, 'json');
});

test('music: "Track - Artist" also as "Track by Artist", "Artist - Track" or the track alone when unique', () => {
  const tracks = [
    { id: 't1', name: 'Bohemian Rhapsody - Queen' },
    { id: 't2', name: "Don't Stop Me Now - Queen" },
    { id: 't3', name: 'Karma Police - Radiohead' },
    { id: 't4', name: 'Creep - Radiohead' },
    { id: 't5', name: 'Creep - TLC' },
    { id: 't6', name: 'Say "Hello" - Some Band' },
  ];
  const raw = JSON.stringify([
    'Karma Police by Radiohead',
    'Queen - Bohemian Rhapsody',
    "Don't Stop Me Now",
    'Creep', // two candidates are called "Creep": not guessed
    'Creep - Thom Yorke', // a different artist: not a candidate
    'Say "Hello" - Some Band',
  ]);
  const { ranked, diagnostics } = parseAnswer(raw, tracks, 10);
  assert.deepEqual(ranked, ['t3', 't1', 't2', 't6']);
  assert.deepEqual(diagnostics.matchKinds, ['normalized', 'normalized', 'normalized', 'exact']);
  assert.deepEqual(diagnostics.unmatched, ['Creep', 'Creep - Thom Yorke']);
});

test('extractList and normalizeText on their own', () => {
  assert.deepEqual(extractList(`Answer: ['a', "b's", 'c\\'d']`).entries, ['a', "b's", "c'd"]);
  assert.deepEqual(extractList(`["x\\u00e9", "tab\\there"]`).entries, ['xé', 'tab\there']);
  assert.equal(normalizeText('Freedom for Us (À nous la liberté ) (1931)'), 'freedom for us a nous la liberte 1931');
  assert.equal(normalizeText('Wallace & Gromit'), 'wallace and gromit');
});

test('parsing is fast enough for thousands of answers', () => {
  const raw = pythonList(['The Matrix (1999)', 'Saving Privat Ryan (1998)', 'Not A Film (2000)', ...TEN.slice(1)]);
  const start = process.hrtime.bigint();
  for (let i = 0; i < 500; i++) parseAnswer(raw, CANDIDATES, 10);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(ms < 2000, `500 parses took ${ms.toFixed(0)} ms`);
});
