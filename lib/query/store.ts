/**
 * The response store: the only place paid answers live.
 *
 * Content-addressed and append-only: each answer is one JSON line, keyed by the sha256 of the canonical JSON of
 * everything that determines it (provider, base URL, model, messages, generation parameters) and never the API key.
 * One file per provider + model under the store directory. Lines are fsync'd before `put` returns, so an answer
 * that arrived survives Ctrl-C, kill -9 and power loss once `put` has returned.
 * Synchronous answers and Batch API answers share keys; `via` tells them apart.
 *
 * A store that cannot be written is never paid into: `checkAppendable` refuses it before the first request, and the
 * first failed append marks the store broken (`broken`, `brokenSignal`): the caller stops sending, and every answer
 * that arrives from then on (the failed one included) is kept in `unstored` for a recovery file (lib/query/recovery.ts).
 */
import { sha256Hex } from '../core/hash';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../core/canonical-json';
import { appendLine, forEachLine } from '../core/io';
import type { AnswerChoice, ChatMessage } from './models';
import { FORMAT_VERSION, type Usage } from '../core/types';

/**
 * Generation parameters that change the answer; part of the key. Snake case as sent to the API: temperature, seed and
 * max_tokens by default, max_completion_tokens and no temperature for reasoning models, plus a model entry's `params`.
 */
export interface GenerationParams {
  [param: string]: unknown;
}

/** Everything that determines an answer. Deliberately has no place for a key or credential. */
export interface StoreKeyInput {
  provider: string;
  baseURL: string | null;
  model: string;
  messages: ChatMessage[];
  params: GenerationParams;
  /** The ask index of a repeated prompt (query.samples > 1); 0 or absent leaves the key of a single ask. */
  repeat?: number;
}

/** The request side of a stored answer (the messages are in the response files; the key hashes them). */
export interface StoredRequest {
  provider: string;
  baseURL: string | null;
  model: string;
  params: GenerationParams;
}

export interface StoredAnswer {
  v: number;
  key: string;
  request: StoredRequest;
  /** The answer text exactly as returned. */
  raw: string;
  /** The first answer token's top logprobs (the `logprobs` method); absent when none were returned. */
  topLogprobs?: { token: string; logprob: number }[];
  /** A request with `n` (the samples method): every choice, in index order; `raw` is the first. */
  choices?: AnswerChoice[];
  usage: Usage;
  /** Model snapshot reported by the server. */
  model: string;
  fingerprint: string | null;
  latencyMs: number;
  /** The reply's finish_reason ("stop", "length", "content_filter" …); absent in answers stored before it was kept. */
  finishReason?: string | null;
  /** What this answer cost when it was bought (Batch API answers at batch prices). */
  costUsd: number;
  via: 'sync' | 'batch';
  answeredAt: string;
  /** Free-form provenance (e.g. the batch id); never credentials. */
  meta?: Record<string, unknown>;
}

export { canonicalJson } from '../core/canonical-json';

/** A base URL without trailing slashes, so "…/v1" and "…/v1/" address the same answers. */
export function normalizeBaseURL(baseURL: string | null): string | null {
  return baseURL === null ? null : baseURL.replace(/\/+$/, '');
}

export function storeKey(input: StoreKeyInput): string {
  const canonical = canonicalJson({
    provider: input.provider,
    baseURL: normalizeBaseURL(input.baseURL),
    model: input.model,
    messages: input.messages.map((m) => ({ role: m.role, content: m.content })),
    params: input.params,
    // Only later asks carry their index, so the first ask of a repeated prompt reuses the answer of a single ask.
    ...(input.repeat ? { repeat: input.repeat } : {}),
  });
  return sha256Hex(canonical);
}

/** The store file for one provider + model: a readable, filesystem-safe name. */
export function storeFileName(provider: string, model: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${safe(provider)}--${safe(model)}.jsonl`;
}

function fsyncFile(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => {
      if (err) return reject(err);
      fs.fsync(fd, (syncErr) => {
        fs.close(fd, () => (syncErr ? reject(syncErr) : resolve()));
      });
    });
  });
}

/** A write to the store that failed (full disk, immutable or read-only file, a folder in its place …). */
export class StoreWriteError extends Error {
  constructor(
    readonly file: string,
    /** The errno code (ENOSPC, EPERM, EACCES, EISDIR, EROFS …), or the kind of problem found. */
    readonly code: string,
    readonly reason: string,
    /** The answer that could not be stored (kept in ResponseStore.unstored). */
    readonly entry?: StoredAnswer,
  ) {
    super(`the response store ${file} cannot be written (${code}: ${reason})`);
    this.name = 'StoreWriteError';
  }
}

/** A failed write as a StoreWriteError naming `file` (an errno error's code and its reason without Node's decorations). */
export function storeWriteError(file: string, e: unknown, entry?: StoredAnswer): StoreWriteError {
  if (e instanceof StoreWriteError) return new StoreWriteError(e.file, e.code, e.reason, entry);
  const err = e as NodeJS.ErrnoException;
  // The reason without Node's "CODE: " prefix and ", open '<path>'" suffix: the message names the file once.
  const reason = (err.message ?? String(e)).replace(/^[A-Z]+: /, '').replace(/, \w+( '[^']*')*( -> '[^']*')?$/, '');
  return new StoreWriteError(file, err.code ?? 'EIO', reason, entry);
}

/** What to do about a store file that cannot be written, by errno code. */
export function storeWriteFix(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'free space on its disk (or set paths.store to a folder on another disk)';
    case 'EISDIR':
    case 'ENOTFILE':
      return 'a store file must be a regular file: move what is there away (or set paths.store to another folder)';
    case 'EPERM':
    case 'EACCES':
      return 'make it writable (chmod u+w, chattr -i, or the owner of the folder) or set paths.store to a writable folder';
    case 'EROFS':
      return 'its file system is mounted read-only: remount it read-write or set paths.store to a writable folder';
    default:
      return 'check the file and its folder, or set paths.store to a writable folder';
  }
}

/**
 * Checks, without changing it, that answers can be appended to a store file: its folder is created when missing, the
 * file is opened for appending (created empty when missing), must be a regular file, and a zero-byte append and an
 * fsync succeed. Throws a StoreWriteError naming the file otherwise (immutable: EPERM, read-only: EACCES or EROFS, a
 * folder in its place: EISDIR). A full disk passes (an empty append needs no space); the first failed append stops.
 */
export function checkAppendable(file: string): void {
  let fd: number | undefined;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fd = fs.openSync(file, 'a');
    if (!fs.fstatSync(fd).isFile())
      throw new StoreWriteError(file, 'ENOTFILE', 'not a regular file (a device, pipe or socket)');
    fs.writeSync(fd, '');
    fs.fsyncSync(fd);
  } catch (e) {
    throw storeWriteError(file, e);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const KEY_PATTERN = /^[0-9a-f]{64}$/;

function checkEntry(e: unknown): string | null {
  const a = e as StoredAnswer;
  if (a === null || typeof a !== 'object') return 'not an object';
  if (typeof a.key !== 'string' || !KEY_PATTERN.test(a.key)) return '"key" must be 64 hex digits';
  if (typeof a.raw !== 'string') return '"raw" must be a string';
  if (typeof a.request !== 'object' || a.request === null || typeof a.request.model !== 'string')
    return '"request" must be an object with "model"';
  if (typeof a.usage !== 'object' || a.usage === null) return '"usage" must be an object';
  if (a.via !== 'sync' && a.via !== 'batch') return '"via" must be "sync" or "batch"';
  return null;
}

export interface StoreProblem {
  file: string;
  line: number;
  reason: string;
  /**
   * "torn": the start of a line cut off mid-append (a crash; later runs may have appended after it); "corrupt":
   * anything else (garbage, an edited or damaged file), which no crash of ours leaves behind.
   */
  kind: 'torn' | 'corrupt';
}

/**
 * Whether an unreadable line is the beginning of a JSON object cut off mid-write: the parse fails only because the
 * text ends (V8 reports the end of input, or a position equal to the line's length).
 */
export function isTornPrefix(line: string, parseError: string): boolean {
  if (!line.startsWith('{')) return false;
  if (/Unexpected end of JSON input/.test(parseError)) return true;
  const at = /at position (\d+)/.exec(parseError);
  return at !== null && Number(at[1]) === line.length;
}

export interface OpenStoreOptions {
  /** Load only these store files (names from storeFileName); default: every *.jsonl in the directory. */
  files?: string[];
}

export class ResponseStore {
  private readonly entries = new Map<string, StoredAnswer>();
  private readonly inflight = new Map<string, Promise<StoredAnswer>>();
  private readonly flushers = new Map<string, { running: Promise<void> | null; next: Promise<void> | null }>();
  private readonly brokenController = new AbortController();
  /** The first write that failed; from then on nothing more is appended by this store object. */
  broken: StoreWriteError | null = null;
  /** Answers that arrived and could not be stored (the failed one and every one after it), for a recovery file. */
  readonly unstored: StoredAnswer[] = [];
  /** Lines cut off by a crash mid-append, skipped; never fatal. */
  tornLines = 0;
  /** Lines that no crash leaves behind (garbage, edits, disk damage), skipped and reported with their line numbers. */
  corruptLines = 0;
  readonly problems: StoreProblem[] = [];

  private constructor(readonly dir: string) {}

  static open(dir: string, opts: OpenStoreOptions = {}): ResponseStore {
    const store = new ResponseStore(dir);
    if (!fs.existsSync(dir)) return store;
    const names =
      opts.files ??
      fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.jsonl'))
        .sort();
    for (const name of names) {
      const file = path.join(dir, name);
      if (fs.existsSync(file)) store.load(file);
    }
    return store;
  }

  private load(file: string): void {
    forEachLine(file, (line, lineNumber) => {
      if (line.trim() === '') return;
      let parsed: unknown;
      let reason: string | null;
      let torn = false;
      try {
        parsed = JSON.parse(line);
        reason = checkEntry(parsed);
      } catch (e) {
        reason = `not valid JSON (${(e as Error).message})`;
        torn = isTornPrefix(line, (e as Error).message);
      }
      if (reason !== null) {
        if (torn) this.tornLines++;
        else this.corruptLines++;
        this.problems.push({ file, line: lineNumber, reason, kind: torn ? 'torn' : 'corrupt' });
        return;
      }
      const entry = parsed as StoredAnswer;
      // The first answer for a key wins: a later duplicate (two runs racing) is the same request answered again.
      if (!this.entries.has(entry.key)) this.entries.set(entry.key, entry);
    });
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): StoredAnswer | undefined {
    return this.entries.get(key);
  }

  /** The file an entry belongs in. */
  fileFor(request: { provider: string; model: string }): string {
    return path.join(this.dir, storeFileName(request.provider, request.model));
  }

  /** Aborts when the store breaks (the first failed write): callers stop sending. */
  get brokenSignal(): AbortSignal {
    return this.brokenController.signal;
  }

  /**
   * Appends the answer and fsyncs it before returning. Refuses anything that is not a well-formed answer. A failed
   * write throws a StoreWriteError and breaks the store; the answer is not kept (its caller still has it: a responses
   * or recovery file it is being put back from).
   */
  put(entry: StoredAnswer): void {
    const file = this.append(entry);
    if (file === null) return;
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'r');
      fs.fsyncSync(fd);
    } catch (e) {
      this.entries.delete(entry.key);
      throw this.fail(storeWriteError(file, e));
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /**
   * Appends the answer at once (in the page cache, so it survives the process being killed) and resolves when it is
   * on disk. Concurrent calls share one fsync (group commit), so a fast stream of answers does not stall on the disk.
   * A failed append or fsync (or any call once the store is broken) keeps the answer in `unstored` and throws a
   * StoreWriteError carrying it: it was paid for, and the caller writes it to a recovery file.
   */
  async putDurable(entry: StoredAnswer): Promise<void> {
    let file: string | null = null;
    try {
      file = this.append(entry);
      if (file !== null) await this.flush(file);
    } catch (e) {
      if (!(e instanceof StoreWriteError) && file === null) throw e;
      // An fsync that failed leaves the line's fate unknown: kept for recovery too (a duplicate line is harmless).
      this.entries.delete(entry.key);
      this.unstored.push(entry);
      throw this.fail(storeWriteError(file ?? this.fileFor(entry.request), e, entry));
    }
  }

  /** Records the first failure (later ones keep their own entry but report the first cause). */
  private fail(err: StoreWriteError): StoreWriteError {
    if (this.broken === null) {
      this.broken = err;
      this.brokenController.abort();
    }
    return err;
  }

  /** Writes the line; returns the file written, or null when the key was already stored. */
  private append(entry: StoredAnswer): string | null {
    const problem = checkEntry(entry);
    if (problem !== null) throw new Error(`ResponseStore.put: refusing a malformed answer (${problem})`);
    if (this.entries.has(entry.key)) return null;
    const file = this.fileFor(entry.request);
    // After the first failure nothing more is appended: a disk that filled up may take the next short line and not
    // the one after it, and a store with holes is worse than a run that stops at the first one.
    if (this.broken !== null) throw this.broken;
    const line = JSON.stringify({ ...entry, v: entry.v ?? FORMAT_VERSION });
    try {
      // Another process may have left a torn fragment since we opened the store: appendLine never glues onto it.
      appendLine(file, line, { fsync: false });
    } catch (e) {
      throw this.fail(storeWriteError(file, e));
    }
    this.entries.set(entry.key, entry);
    return file;
  }

  private flush(file: string): Promise<void> {
    let f = this.flushers.get(file);
    if (!f) {
      f = { running: null, next: null };
      this.flushers.set(file, f);
    }
    const state = f;
    if (!state.running) {
      state.running = fsyncFile(file).finally(() => {
        state.running = null;
      });
      return state.running;
    }
    // Lines written while an fsync runs may not be covered by it: they wait for the next one, shared by all of them.
    if (!state.next) {
      state.next = state.running
        .catch(() => {})
        .then(() => {
          state.next = null;
          return this.flush(file);
        });
    }
    return state.next;
  }

  /**
   * The stored answer for `key`, or the result of `produce` (stored before it resolves). Concurrent calls for the
   * same key share one `produce` call: identical prompts cost one request. A failed `produce` stores nothing.
   */
  fetchOnce(key: string, produce: () => Promise<StoredAnswer>): Promise<StoredAnswer> {
    const stored = this.entries.get(key);
    if (stored) return Promise.resolve(stored);
    // Nothing is produced (paid for) for a store that has refused a write.
    if (this.broken !== null) return Promise.reject(this.broken);
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = (async () => {
      try {
        const entry = await produce();
        if (entry.key !== key)
          throw new Error(`ResponseStore.fetchOnce: produced an answer for key ${entry.key}, expected ${key}`);
        await this.putDurable(entry);
        return this.entries.get(key) as StoredAnswer;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  /** Every stored answer (first per key), in load/insertion order. */
  all(): StoredAnswer[] {
    return [...this.entries.values()];
  }
}
