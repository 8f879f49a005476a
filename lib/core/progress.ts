/** Progress lines with count, rate and ETA; quiet when not attached to a terminal unless asked. */
export interface ProgressOptions {
  label: string;
  total?: number;
  unit?: string;
  /** Minimum milliseconds between two printed lines. */
  intervalMs?: number;
  write?: (line: string) => void;
  /** Extra text appended to each line (tokens, money…). */
  extra?: () => string;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private done = 0;
  private lastPrint = 0;
  private readonly start = Date.now();
  constructor(private readonly opts: ProgressOptions) {}

  tick(n = 1): void {
    this.done += n;
    const now = Date.now();
    if (now - this.lastPrint >= (this.opts.intervalMs ?? 1000)) {
      this.lastPrint = now;
      this.print();
    }
  }

  set(done: number): void {
    this.done = done;
    this.tick(0);
  }

  line(): string {
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const unit = this.opts.unit ?? 'items';
    const total = this.opts.total;
    let s = `${this.opts.label}: ${this.done}${total !== undefined ? `/${total}` : ''} ${unit}, ${rate.toFixed(rate < 10 ? 1 : 0)} ${unit}/s`;
    if (total !== undefined && total > 0) {
      const pct = (100 * this.done) / total;
      const eta = rate > 0 ? (total - this.done) / rate : Infinity;
      s += `, ${pct.toFixed(1)}%, ETA ${formatDuration(eta)}`;
    }
    s += `, elapsed ${formatDuration(elapsed)}`;
    const extra = this.opts.extra?.();
    if (extra) s += `, ${extra}`;
    return s;
  }

  print(): void {
    (this.opts.write ?? ((l: string) => process.stderr.write(`${l}\n`)))(this.line());
  }

  finish(): void {
    this.print();
  }
}
