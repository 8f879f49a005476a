// Query-stage benchmark: throughput against the local fake OpenAI server (100 ms per request, concurrency 32),
// and a warm rerun of 5,000 prompts that must be answered entirely from the response store.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../lib/core/config';
import { writeJsonl } from '../lib/core/io';
import { runQuery } from '../lib/query/runner';
import { fakeModel, makeQueryFixture } from '../test/helpers/query-fixture';
import { peakRssMb, timed, type BenchResult } from './common';

const THROUGHPUT_PROMPTS = 2000;
const WARM_PROMPTS = 5000;
const LATENCY_MS = 100;
const CONCURRENCY = 32;

async function startServer(): Promise<{
  proc: ChildProcess;
  url: string;
  control: (body: unknown) => Promise<unknown>;
  stats: () => Promise<{ chat: number }>;
}> {
  const ext = path.extname(__filename);
  const script = path.join(__dirname, '..', 'test', 'helpers', `fake-openai-server${ext}`);
  const args = ext === '.ts' ? ['--import', 'tsx', script] : [script];
  const proc = spawn(process.execPath, [...args, '--port', '0', '--latency-ms', String(LATENCY_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`fake server exited with ${code}`)));
  });
  const root = url.replace(/\/v1$/, '');
  return {
    proc,
    url,
    control: async (body) =>
      (await fetch(`${root}/__fake/config`, { method: 'POST', body: JSON.stringify(body) })).json(),
    stats: async () => (await (await fetch(`${root}/__fake/stats`)).json()) as { chat: number },
  };
}

export async function run(): Promise<BenchResult[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-bench-query-'));
  const server = await startServer();
  const results: BenchResult[] = [];
  try {
    const fx = makeQueryFixture(root, { prompts: WARM_PROMPTS, items: 3000 });
    const samplesFile = path.join(fx.paths.samples, 'movielens', 'samples.jsonl');
    const model = fakeModel(server.url, { id: 'bench-fake', concurrency: CONCURRENCY, apiKeyEnv: null });
    const config = loadConfig({ env: {}, overrides: { paths: fx.paths, query: { models: [model] } } });
    const quiet = () => {};

    writeJsonl(samplesFile, fx.samples.slice(0, THROUGHPUT_PROMPTS));
    const cold = await timed(() => runQuery(config, 'movielens', ['bench-fake'], { log: quiet, handleSigint: false }));
    const [c] = cold.value;
    if (c.answered !== THROUGHPUT_PROMPTS)
      throw new Error(`throughput run answered ${c.answered}/${THROUGHPUT_PROMPTS}`);
    results.push({
      stage: 'query',
      name: `cold run, ${THROUGHPUT_PROMPTS} prompts, ${LATENCY_MS} ms latency, concurrency ${CONCURRENCY}`,
      seconds: cold.seconds,
      peakRssMb: peakRssMb(),
      note: `${(THROUGHPUT_PROMPTS / cold.seconds).toFixed(0)} prompts/s, ${c.httpRequests} requests`,
      target: '>= 200 prompts/s',
    });

    // Fill the rest of the store quickly, then time a rerun of all 5,000 that must send nothing.
    writeJsonl(samplesFile, fx.samples);
    await server.control({ latencyMs: 0 });
    await runQuery(config, 'movielens', ['bench-fake'], { log: quiet, handleSigint: false });
    const before = (await server.stats()).chat;
    const warm = await timed(() => runQuery(config, 'movielens', ['bench-fake'], { log: quiet, handleSigint: false }));
    const [w] = warm.value;
    const requests = (await server.stats()).chat - before;
    if (w.answered !== WARM_PROMPTS) throw new Error(`warm rerun answered ${w.answered}/${WARM_PROMPTS}`);
    results.push({
      stage: 'query',
      name: `warm rerun, ${WARM_PROMPTS} prompts from the store`,
      seconds: warm.seconds,
      peakRssMb: peakRssMb(),
      note: `${requests} requests`,
      target: '< 5 s, 0 requests',
    });
  } finally {
    server.proc.kill('SIGTERM');
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}

if (require.main === module) {
  run()
    .then((rs) => {
      for (const r of rs) console.log(`${r.name}: ${r.seconds.toFixed(3)} s, ${r.note} (target ${r.target})`);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
