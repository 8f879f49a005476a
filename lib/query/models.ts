/**
 * One interface for everything that answers prompts: hosted APIs, OpenAI-compatible servers and offline baselines.
 * Scoring never knows which one produced an answer.
 */
import type { ModelConfig } from '../core/config';
import type { SampleRecord, Usage } from '../core/types';

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

export interface PromptJob {
  sample: SampleRecord;
  messages: ChatMessage[];
  /** Which ask of the prompt this is when `query.samples` > 1 (0-based, lib/query/repeats.ts); absent when asked once. */
  repeat?: number;
  /** The elicitation method of its own request (lib/query/elicit.ts); absent for the paper's ranking prompt. */
  elicit?: 'stated' | 'logprobs';
}

export interface ModelAnswer {
  /** The answer text exactly as returned (baselines render a Python list of item names). */
  text: string;
  usage: Usage;
  /** Model snapshot reported by the server (or the baseline id). */
  model: string;
  fingerprint: string | null;
  latencyMs: number;
  /** Adaptations to the server's parameter rules in force when this answer was asked (lib/query/adapt.ts). */
  adaptations?: string[];
  /** Why the model stopped ("stop", "length" = cut off by max tokens, "content_filter" …); null when not reported. */
  finishReason?: string | null;
  /** The first answer token's top logprobs, when the request asked for them and the server returned them. */
  topLogprobs?: { token: string; logprob: number }[];
  /** Every choice of a reply with several (a request with `n`), in index order; absent for one. */
  choices?: AnswerChoice[];
}

/** One choice of a reply asked with `n`: an ask of its own. */
export interface AnswerChoice {
  text: string;
  finishReason: string | null;
}

export interface Responder {
  readonly config: ModelConfig;
  answer(job: PromptJob, signal?: AbortSignal): Promise<ModelAnswer>;
}
