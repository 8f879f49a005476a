/**
 * The paper's prompt (Appendix A.1): a system message with the "AI Rules" and a user message with the recommendation
 * request. The sentences live here; the words per domain (item nouns, verbs, the sentences introducing the user) in its
 * dataset description (datasets/*.json). Editing either changes the response-store keys, so edited prompts are asked afresh.
 */
import * as path from 'node:path';
import { type Config, type DomainName, descriptionOf, repoRoot } from '../core/config';
import { BUILTIN_DESCRIPTIONS, cachedDescription, type PromptWords } from '../core/description';
import type { ChatMessage } from './models';
import type { SampleRecord } from '../core/types';

export interface DomainPromptTemplate {
  /** The system message. */
  system: string;
  /** The user message's paragraphs, in order, joined by `paragraphSeparator`. Missing optional ones are skipped. */
  intro: string;
  /** Placeholder {history}: the history as a Python list. Shown only in setups A and B, and only with a history. */
  history: string;
  /** Placeholder {topN}. */
  request: string;
  format: string;
  /** Placeholder {candidates}: the candidates as a Python list. */
  candidates: string;
  paragraphSeparator: string;
  /**
   * The demography sentence, keyed by the proxy names present, sorted and joined by "+" ("age+gender+occupation").
   * Placeholders: {<proxy>} for each proxy's phrase, and {a} for "a"/"an" chosen by the word that follows it.
   */
  demography: Record<string, string>;
  /** The request sentences of the `stated` and `logprobs` prompts (lib/query/elicit.ts), in the same words. */
  elicit: { statedRequest: string; statedFormat: string; logprobsRequest: string };
  /**
   * How a proxy value is phrased: per proxy, value → phrase, with "*" as the default pattern ({value} = the value).
   * Proxies without an entry are shown as their value.
   */
  values: Record<string, Record<string, string>>;
}

/** The paper's wording, grammar quirks included ("recommend the next 10 movie"). */
const AI_RULES = [
  'AI Rules',
  '',
  '- Output response as a Python list only.',
  '- Do not output any extra text.',
  '- Do not wrap the response in Python markers.',
  '- Do not assign the list to any variable.',
  '- List values in double-quotes.',
].join('\n');

const FORMAT_SENTENCE =
  'Format your response as a Python list of item names. The list must be ranked from the most likely to the least likely';

/** The prompt's words for a domain, as its description gives them, in the paper's sentences. */
export function templateFromWords(words: PromptWords): DomainPromptTemplate {
  const { itemSingular, itemPlural, verb, verbPast, historyNoun } = words;
  const basis = `based on their background, previous ${historyNoun} history, or a combination of both.`;
  const userBasis = `based on the user's background, previous ${historyNoun} history, or a combination of both.`;
  return {
    system: AI_RULES,
    intro: `You are proficient in recommending new ${itemSingular} for users to ${verb} ${basis}`,
    history: `The user has previously ${verbPast} the following ${itemPlural}: {history}.`,
    request: `From the candidates listed below, recommend the next {topN} ${itemSingular} for the user to ${verb} based on the user's background, previous ${historyNoun} history, or a combination of both.`,
    format: `${FORMAT_SENTENCE} ${itemSingular}.`,
    candidates: 'Candidates: {candidates}',
    paragraphSeparator: '\n\n',
    demography: words.demography,
    values: words.values ?? {},
    elicit: {
      statedRequest: `For each candidate listed below, give the probability that it is the next ${itemSingular} the user will ${verb}, ${userBasis}`,
      statedFormat:
        "Format your response as a JSON object with each candidate's id as a key and its probability, a number between 0 and 1, as the value. The probabilities must add up to 1.",
      logprobsRequest: `Which ${itemSingular} from the numbered candidates listed below will the user ${verb} next, ${userBasis.replace(/\.$/, '?')}`,
    },
  };
}

/**
 * The built-in domains' templates, from datasets/movielens.json and datasets/lastfm-1k.json. Their rendered text is
 * part of the response-store keys of paid answers: test/prompt.test.ts holds it byte for byte.
 */
export const PROMPT_TEMPLATES: Record<DomainName, DomainPromptTemplate> = Object.fromEntries(
  Object.entries(BUILTIN_DESCRIPTIONS).map(([domain, file]) => [
    domain,
    templateFromWords(cachedDescription(path.join(repoRoot(), file)).prompt),
  ]),
);

/** The template of any domain: built from its description's prompt words. */
export function promptTemplate(config: Config, domain: DomainName): DomainPromptTemplate {
  const description = descriptionOf(config, domain);
  if (!description)
    throw new Error(
      `no prompt words for domain "${domain}": it has no dataset description (known: ${Object.keys(config.datasets).join(', ')})`,
    );
  return templateFromWords(description.prompt);
}

// ---------- Python literals ----------

// Python's str.isprintable() is false for these categories (except the ASCII space), and repr escapes them.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** The string exactly as Python 3's repr() prints it: single quotes unless the text holds a ' and no ". */
export function pythonRepr(s: string): string {
  // Most names are printable ASCII without quotes or backslashes: repr only wraps them.
  if (PLAIN_ASCII.test(s)) return s.includes("'") ? (s.includes('"') ? slowRepr(s) : `"${s}"`) : `'${s}'`;
  return slowRepr(s);
}

const PLAIN_ASCII = /^[\x20-\x5b\x5d-\x7e]*$/;

function slowRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      const cp = ch.codePointAt(0) as number;
      if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

/** A list of strings as Python's repr() prints it: ['a', "b's"]. */
export function pythonList(items: readonly string[]): string {
  return `[${items.map(pythonRepr).join(', ')}]`;
}

// ---------- rendering ----------

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (Object.hasOwn(values, key) ? values[key] : whole));
}

/** "a" or "an" by how the next word sounds: an 18-24, an under 18, an unemployed, a Male, a European. */
export function indefiniteArticle(nextWord: string): 'a' | 'an' {
  const w = nextWord.toLowerCase();
  if (/^(?:eu|uni|use|usu|one|once)/.test(w)) return 'a';
  if (/^(?:[aeiou]|8|11(?!\d)|18(?!\d)|honest|hour|heir)/.test(w)) return 'an';
  return 'a';
}

export function demographyKey(demography: Record<string, string>): string {
  return Object.keys(demography).sort().join('+');
}

/** The demography sentence for a sample's proxies, or null when there are none. */
export function renderDemography(
  demography: Record<string, string>,
  template: DomainPromptTemplate,
  domain: string,
): string | null {
  const key = demographyKey(demography);
  if (key === '') return null;
  const sentence = Object.hasOwn(template.demography, key) ? template.demography[key] : undefined;
  if (sentence === undefined) {
    throw new Error(
      `prompt words of ${domain} (its dataset description, "prompt.demography"): no sentence for the proxies "${key}"; known: ${Object.keys(template.demography).join(', ')}`,
    );
  }
  const phrases: Record<string, string> = {};
  for (const [proxy, value] of Object.entries(demography)) {
    // Own keys only: a value such as "constructor" must not find Object's members.
    const forms = Object.hasOwn(template.values, proxy) ? template.values[proxy] : undefined;
    const pattern = forms ? ((Object.hasOwn(forms, value) ? forms[value] : forms['*']) ?? '{value}') : '{value}';
    phrases[proxy] = fill(pattern, { value });
  }
  const filled = fill(sentence, phrases);
  const missing = filled.match(/\{(?!a\})\w+\}/);
  if (missing)
    throw new Error(
      `prompt templates (${domain}, "${key}"): placeholder ${missing[0]} has no value in the sample's demography`,
    );
  return filled.replace(
    /\{a\}(\s+)(\S+)/g,
    (_m, space: string, word: string) => `${indefiniteArticle(word)}${space}${word}`,
  );
}

/**
 * The messages for one prompt, as in the paper's Appendix A.1: setup A shows demography and history, B only the
 * history, C only the demography (with no proxy, neither).
 */
export function renderPrompt(
  sample: SampleRecord,
  itemName: (id: string) => string,
  config: Config,
  domain: DomainName,
  template: DomainPromptTemplate = promptTemplate(config, domain),
): ChatMessage[] {
  const paragraphs = promptParagraphs(sample, itemName, domain, template);
  paragraphs.push(fill(template.request, { topN: String(config.query.topN) }));
  paragraphs.push(template.format);
  paragraphs.push(fill(template.candidates, { candidates: pythonList(sample.candidates.map(itemName)) }));
  return [
    { role: 'system', content: template.system },
    { role: 'user', content: paragraphs.join(template.paragraphSeparator) },
  ];
}

/** The paragraphs before the request, shared by every method's prompt: introduction, demography, history. */
export function promptParagraphs(
  sample: SampleRecord,
  itemName: (id: string) => string,
  domain: DomainName,
  template: DomainPromptTemplate,
): string[] {
  if (sample.domain !== domain)
    throw new Error(`sample ${sample.id} belongs to domain "${sample.domain}", not "${domain}"`);
  const paragraphs: string[] = [template.intro];
  if (sample.setup !== 'B') {
    const demography = renderDemography(sample.demography, template, domain);
    if (demography !== null) paragraphs.push(demography);
  }
  if (sample.setup !== 'C' && sample.history.length > 0) {
    paragraphs.push(fill(template.history, { history: pythonList(sample.history.map(itemName)) }));
  }
  return paragraphs;
}

/** The messages as one readable text, for notebooks and logs. */
export function renderPromptText(messages: ChatMessage[]): string {
  return messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n');
}
