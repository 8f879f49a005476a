/** Reading a model's API key, and saying why it is missing, without ever printing it. */
import type { ModelConfig } from '../core/config';
import { redact, registerSecret } from '../core/secrets';

/**
 * `text` without the given secrets, any 12-character piece of them, every key this process has read (lib/core/secrets.ts)
 * and anything shaped like a provider's key. A configured key is redacted whatever its length: a short key is still a
 * key (local servers take any string), and printing it is the leak.
 */
export function redactSecrets(text: string, secrets: (string | undefined | null)[]): string {
  return redact(text, secrets);
}

const warnedPadded = new Set<string>();

/**
 * The API key a model names, trimmed and registered for redaction (raw and trimmed). A key with spaces or a newline
 * around it is used trimmed, with a warning (once per variable): HTTP strips them from a header value anyway, so the
 * server always received the trimmed key; refusing it would stop runs that work over a copy-paste artifact.
 */
export function readApiKey(
  model: ModelConfig,
  env: NodeJS.ProcessEnv,
  log?: (line: string) => void,
): string | undefined {
  if (!model.apiKeyEnv) return undefined;
  const v = env[model.apiKeyEnv];
  if (v === undefined || v.trim() === '') return undefined;
  registerSecret(v);
  const key = v.trim();
  if (key !== v && log && !warnedPadded.has(model.apiKeyEnv)) {
    warnedPadded.add(model.apiKeyEnv);
    log(
      `${model.id}: warning: the API key in ${model.apiKeyEnv} has spaces or a line break around it; it is used without them (remove them from the variable to silence this)`,
    );
  }
  return key;
}

/** Why a model's key cannot be used: "is not set" and "is empty" are different mistakes with different fixes. */
export function missingKeyReason(model: ModelConfig, env: NodeJS.ProcessEnv): string {
  if (!model.apiKeyEnv) return `model "${model.id}" names no "apiKeyEnv" to read its API key from`;
  const v = env[model.apiKeyEnv];
  return v === undefined
    ? `environment variable ${model.apiKeyEnv} is not set`
    : `environment variable ${model.apiKeyEnv} is empty`;
}
