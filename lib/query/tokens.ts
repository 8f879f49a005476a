/**
 * Token counts for dry runs: how many input tokens a prompt costs with the model's own tokenizer.
 * GPT-4o family → o200k_base (js-tiktoken); Llama 3 → its BPE (llama3-tokenizer-js ships the vocabulary);
 * anything else → o200k_base, labelled as an estimate.
 *
 * Both are byte-pair encoders behind a regex pre-tokenizer, and BPE never merges across pre-tokenizer pieces, so a
 * text's count is the sum of its pieces' counts. Pieces repeat endlessly across prompts (title words, list
 * punctuation), so counting piece by piece with a cache is exact and many times faster than encoding every prompt.
 */
import type { ModelConfig } from '../core/config';
import type { ChatMessage } from './models';

export interface Tokenizer {
  /** e.g. "o200k_base", "llama3". */
  name: string;
  /** False when the tokenizer is a stand-in for an unknown model's own. */
  exact: boolean;
  count(text: string): number;
  /** Tokens a chat request costs: contents plus the chat template's per-message framing. */
  countChat(messages: ChatMessage[]): number;
}

export type TokenizerName = 'o200k_base' | 'cl100k_base' | 'llama3';

interface PieceCounter {
  /** The pre-tokenizer's regex (flags "gu"). */
  pattern: RegExp;
  /** Tokens of one pre-tokenized piece. */
  encodePiece(piece: string): number;
  cache: Map<string, number>;
}

// Loading an encoder takes seconds (o200k builds a 200k-entry rank table), so each is loaded once, on first use.
const counters = new Map<TokenizerName, PieceCounter>();

function loadCounter(name: TokenizerName): PieceCounter {
  if (name === 'llama3') {
    // The package's main entry is ESM; its CommonJS bundle has the same tokenizer with the vocabulary baked in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs') as {
      llama3Tokenizer: { encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[] };
    };
    const tok = mod.llama3Tokenizer;
    return {
      // Llama 3's pre-tokenizer, as llama3-tokenizer-js writes it for JavaScript (no inline (?i:) groups).
      pattern:
        /(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
      encodePiece: (piece) => tok.encode(piece, { bos: false, eos: false }).length,
      cache: new Map(),
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Tiktoken } = require('js-tiktoken/lite') as typeof import('js-tiktoken/lite');
  const ranks = (
    name === 'o200k_base'
      ? // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('js-tiktoken/ranks/o200k_base')
      : // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('js-tiktoken/ranks/cl100k_base')
  ) as { default?: TiktokenRanks } & TiktokenRanks;
  const bpe = ranks.default ?? ranks;
  const enc = new Tiktoken(bpe);
  return {
    pattern: new RegExp(bpe.pat_str, 'gu'),
    encodePiece: (piece) => enc.encode(piece).length,
    cache: new Map(),
  };
}

interface TiktokenRanks {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

function counter(name: TokenizerName): PieceCounter {
  let c = counters.get(name);
  if (!c) {
    c = loadCounter(name);
    counters.set(name, c);
  }
  return c;
}

/** Tokens of `text` with the named tokenizer (no special tokens, no chat framing). */
export function countTokens(name: TokenizerName, text: string): number {
  if (text.length === 0) return 0;
  const c = counter(name);
  let n = 0;
  for (const m of text.matchAll(c.pattern)) {
    const piece = m[0];
    let k = c.cache.get(piece);
    if (k === undefined) {
      k = c.encodePiece(piece);
      // Pieces are short and repeat; the cap only guards against pathological inputs.
      if (c.cache.size < 2_000_000) c.cache.set(piece, k);
    }
    n += k;
  }
  return n;
}

/** Which tokenizer a model name implies. */
export function tokenizerKind(modelName: string): { name: TokenizerName; exact: boolean } {
  const m = modelName.toLowerCase();
  if (/llama[-_ .]?3/.test(m)) return { name: 'llama3', exact: true };
  if (/gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|(^|\/)o[134](-|$)/.test(m)) return { name: 'o200k_base', exact: true };
  if (/gpt-4|gpt-3\.5/.test(m)) return { name: 'cl100k_base', exact: true };
  return { name: 'o200k_base', exact: false };
}

export function tokenizerFor(model: Pick<ModelConfig, 'model'>): Tokenizer {
  const kind = tokenizerKind(model.model);
  const count = (text: string) => countTokens(kind.name, text);
  if (kind.name === 'llama3') {
    return {
      name: 'llama3',
      exact: true,
      count,
      // <|begin_of_text|>, then per message <|start_header_id|>role<|end_header_id|>\n\n content <|eot_id|>,
      // then the assistant header that primes the reply.
      countChat: (messages) =>
        1 + messages.reduce((n, m) => n + 4 + count(m.role) + count(m.content), 0) + 3 + count('assistant'),
    };
  }
  return {
    name: kind.name,
    exact: kind.exact,
    count,
    // OpenAI's published accounting for chat models: 3 framing tokens per message, 3 to prime the reply.
    countChat: (messages) => messages.reduce((n, m) => n + 3 + count(m.role) + count(m.content), 0) + 3,
  };
}
