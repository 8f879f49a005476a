// Reading a finished batch's output and error files.
import { forEachLine } from '../../core/io';
import type { CompletionLike } from '../llm';
import type { LedgerProblem } from './ledger';

export interface BatchResultLine {
  key: string;
  /** The completion when the request succeeded (HTTP 200). */
  completion?: CompletionLike;
  requestId?: string;
  failure?: { status?: number; code?: string; message: string };
}

export interface BatchResults {
  results: BatchResultLine[];
  problems: LedgerProblem[];
}

/** Parses a batch output or error file. Unreadable lines are reported, not fatal (their keys count as without result). */
export function parseBatchResults(text: string, where: string): BatchResults {
  const into: BatchResults = { results: [], problems: [] };
  text.split('\n').forEach((raw, i) => parseBatchResultLine(raw, i + 1, where, into));
  return into;
}

/**
 * parseBatchResults of a downloaded file, read line by line: the output of n choices per request can exceed the
 * longest string V8 holds.
 */
export function readBatchResults(file: string): BatchResults {
  const into: BatchResults = { results: [], problems: [] };
  forEachLine(file, (raw, lineNumber) => parseBatchResultLine(raw, lineNumber, file, into));
  return into;
}

function parseBatchResultLine(raw: string, lineNumber: number, where: string, into: BatchResults): void {
  const { results, problems } = into;
  if (raw.trim() === '') return;
  let rec: {
    id?: string;
    custom_id?: unknown;
    response?: { status_code?: number; request_id?: string; body?: unknown } | null;
    error?: { code?: string | null; message?: string | null } | null;
  };
  try {
    rec = JSON.parse(raw);
  } catch (e) {
    problems.push({ file: where, line: lineNumber, reason: `not valid JSON (${(e as Error).message})` });
    return;
  }
  if (typeof rec?.custom_id !== 'string') {
    problems.push({ file: where, line: lineNumber, reason: 'field "custom_id" must be a string' });
    return;
  }
  const key = rec.custom_id;
  const requestId = rec.response?.request_id ?? rec.id;
  if (rec.error) {
    results.push({
      key,
      requestId,
      failure: { code: rec.error.code ?? undefined, message: rec.error.message ?? 'error without message' },
    });
    return;
  }
  const status = rec.response?.status_code;
  const body = rec.response?.body as { error?: { message?: string; code?: string | null } } | undefined;
  if (status === 200 && body && typeof body === 'object' && !('error' in body && body.error)) {
    results.push({ key, requestId, completion: body as CompletionLike });
    return;
  }
  results.push({
    key,
    requestId,
    failure: {
      status,
      code: body?.error?.code ?? undefined,
      message: body?.error?.message ?? `HTTP ${status ?? '?'} without a completion`,
    },
  });
}
