// `npm run bench`: runs each stage's benchmark module (bench/<stage>.ts exporting `run()`), prints a table.
// Pass stage names to run only some: npm run bench -- preprocess sample
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchModule, BenchResult } from './common';

const STAGES = ['preprocess', 'sample', 'query', 'score', 'figures', 'pipeline'];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const results: BenchResult[] = [];
  for (const stage of STAGES) {
    if (wanted.length && !wanted.includes(stage)) continue;
    const file = path.join(__dirname, `${stage}.js`);
    if (!fs.existsSync(file)) continue;
    console.error(`[bench] ${stage} ...`);
    const mod = require(file) as BenchModule;
    for (const r of await mod.run()) {
      results.push(r);
      console.error(
        `[bench]   ${r.name}: ${r.seconds.toFixed(3)} s${r.peakRssMb !== undefined ? `, peak RSS ${r.peakRssMb.toFixed(0)} MB` : ''}${r.note ? `, ${r.note}` : ''}`,
      );
    }
  }
  const rows = results.map((r) => [
    r.stage,
    r.name,
    r.seconds.toFixed(3),
    r.peakRssMb !== undefined ? r.peakRssMb.toFixed(0) : '',
    r.note ?? '',
    r.target ?? '',
  ]);
  const head = ['stage', 'benchmark', 'seconds', 'peak RSS MB', 'figures', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(fmt(r));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
