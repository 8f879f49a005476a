/** What every benchmark reports; `npm run bench` prints these as a table. */
export interface BenchResult {
  stage: string;
  name: string;
  seconds: number;
  peakRssMb?: number;
  /** Throughput or other figures, e.g. "212 prompts/s". */
  note?: string;
  /** The target from the issue, printed beside the figure, e.g. "< 10 s". */
  target?: string;
}

export type BenchModule = { run: () => Promise<BenchResult[]> };

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}
