/**
 * Redaction that does not depend on the key being byte-exact. Every message the tool prints or writes (log lines,
 * step details and failure reasons, stamps, the report) passes through `redact`, which removes
 * - every secret the process has read (an API key is registered by the code that reads it, raw and trimmed),
 * - every 12-character piece of such a secret, so a key cut short, cut in two or quoted with a character changed
 *   around it still leaves nothing that identifies it,
 * - anything shaped like a provider's key (OpenAI, Anthropic, OpenRouter, Google, Groq, Together), registered or not.
 * Texts are redacted before they are cut to a length: a cut through a key would leave a piece shorter than a window.
 */

/** Pieces of this length of a registered secret are redacted wherever they appear. */
export const SECRET_WINDOW = 12;

const MARK = '[REDACTED]';

/**
 * Known key shapes, each redacted with its prefix kept (what kind of key it was helps; the rest identifies it).
 * OpenAI (sk-, sk-proj-), Anthropic (sk-ant-) and OpenRouter (sk-or-v1-) share the "sk-" rule; `*` is kept inside it
 * so a masked echo ("sk-proj-****abcd") goes as a whole. Together's keys are 64 hex digits (older) or "tgp_…".
 */
const KEY_SHAPES: { pattern: RegExp; keep: string }[] = [
  { pattern: /\bsk-[A-Za-z0-9_*-]{8,}/g, keep: 'sk-' },
  { pattern: /\bAIza[0-9A-Za-z_-]{30,}/g, keep: 'AIza' },
  { pattern: /\bgsk_[A-Za-z0-9]{20,}/g, keep: 'gsk_' },
  { pattern: /\btgp_[A-Za-z0-9_-]{16,}/g, keep: 'tgp_' },
  { pattern: /\b[0-9a-f]{64}\b/g, keep: '' },
];

/**
 * Shorter registered secrets are not redacted everywhere: a local server's placeholder key ("x", "none") would
 * otherwise be cut out of every message and of the report's figures. The client that holds such a key still redacts
 * it from its own messages (`extra`).
 */
export const MIN_REGISTERED_LENGTH = 8;

const registered = new Set<string>();

/** Remembers a secret for every later `redact` of this process (its trimmed form too). Empty values are ignored. */
export function registerSecret(value: string | null | undefined): void {
  for (const s of forms(value)) if (s.length >= MIN_REGISTERED_LENGTH) registered.add(s);
}

function forms(value: string | null | undefined): string[] {
  if (!value) return [];
  const trimmed = value.trim();
  return trimmed && trimmed !== value ? [value, trimmed] : trimmed ? [value] : [];
}

/**
 * `text` without the registered secrets, the `extra` ones, any SECRET_WINDOW-character piece of them, and anything
 * shaped like a provider's key. A secret shorter than the window is redacted where it appears whole (a local server
 * takes any string as its key, and printing it is still the leak).
 */
export function redact(text: string, extra: (string | null | undefined)[] = []): string {
  const secrets = new Set(registered);
  for (const e of extra) for (const s of forms(e)) secrets.add(s);
  let out = text;
  if (secrets.size && out) {
    const pieces = new Set<string>();
    for (const s of secrets) {
      // The secret as given (spaces around it included), and the windows of what it is without them.
      pieces.add(s);
      const core = s.trim();
      for (let i = 0; i + SECRET_WINDOW <= core.length; i++) pieces.add(core.slice(i, i + SECRET_WINDOW));
    }
    // Marked as ranges first and replaced once, so overlapping pieces of one key become one marker.
    const covered: [number, number][] = [];
    for (const p of pieces) {
      for (let i = out.indexOf(p); i !== -1; i = out.indexOf(p, i + 1)) covered.push([i, i + p.length]);
    }
    if (covered.length) {
      covered.sort((a, b) => a[0] - b[0]);
      let result = '';
      let at = 0;
      let [start, end] = covered[0];
      for (const [s, e] of covered.slice(1)) {
        if (s <= end) end = Math.max(end, e);
        else {
          result += out.slice(at, start) + MARK;
          at = end;
          [start, end] = [s, e];
        }
      }
      out = result + out.slice(at, start) + MARK + out.slice(end);
    }
  }
  for (const { pattern, keep } of KEY_SHAPES) out = out.replace(pattern, `${keep}${MARK}`);
  return out;
}

/** `redact(text)` cut to `max` characters (with "…"): redacted first, so the cut never leaves part of a key. */
export function redactedStart(text: string, max: number, extra: (string | null | undefined)[] = []): string {
  const safe = redact(text, extra);
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}
