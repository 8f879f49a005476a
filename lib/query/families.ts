/**
 * Model families whose request rules differ from plain chat models, known by name so they work without configuration.
 * One table, each row with the documentation it comes from; a model entry's own `params` always win over a row.
 * Models not in the table that reject a parameter are handled at run time by lib/query/adapt.ts.
 */

export interface ModelFamily {
  name: string;
  /** Matched against the model name sent to the API (case-insensitive). */
  pattern: RegExp;
  /** Send the output budget under this name instead of `max_tokens`. */
  maxTokensParam?: string;
  /** Parameters the family rejects unless the model entry sets them itself. */
  omit: string[];
  /** Where the rule is documented. */
  source: string;
}

export const MODEL_FAMILIES: readonly ModelFamily[] = [
  {
    // o1, o3, o3-mini, o4-mini, gpt-5, gpt-5-mini, gpt-5-nano, gpt-5.1 … and their dated snapshots. gpt-5-chat-* is a
    // chat model (it takes temperature), so it is excluded.
    name: 'openai-reasoning',
    pattern: /^(o[1-9]|gpt-5(\.\d+)?)(-(?!chat)[a-z0-9.-]+)?$/i,
    maxTokensParam: 'max_completion_tokens',
    // Reasoning models accept only the default temperature (1) and reject any other value with unsupported_value.
    omit: ['temperature'],
    source:
      'https://platform.openai.com/docs/guides/reasoning (reasoning models: max_completion_tokens, default temperature only); ' +
      'https://platform.openai.com/docs/api-reference/chat/create (max_tokens "is not compatible with o-series models")',
  },
];

export function modelFamily(modelName: string): ModelFamily | undefined {
  return MODEL_FAMILIES.find((f) => f.pattern.test(modelName));
}
