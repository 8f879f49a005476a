// Child processes for the tests that run queries and servers in processes of their own (kill -9, SIGINT, two runs at once).
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../../lib/core/config';

const ext = path.extname(__filename);
export function nodeArgs(script: string): string[] {
  return ext === '.ts' ? ['--import', 'tsx', script] : [script];
}

export function spawnNode(script: string, args: string[]): ChildProcess & { out: string[]; err: string[] } {
  const child = spawn(process.execPath, [...nodeArgs(path.join(__dirname, `${script}${ext}`)), ...args], {
    cwd: repoRoot(),
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { out: string[]; err: string[] };
  child.out = [];
  child.err = [];
  child.stdout!.on('data', (d: Buffer) => child.out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => child.err.push(d.toString()));
  return child;
}

export async function startStandaloneServer(
  latencyMs: number,
): Promise<{ url: string; proc: ChildProcess; stats: () => Promise<{ chat: number }> }> {
  const proc = spawnNode('fake-openai-server', [
    '--port',
    '0',
    '--latency-ms',
    String(latencyMs),
    '--model',
    'fake-model-standalone',
  ]);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`standalone server did not start: ${proc.err.join('')}`)), 20_000);
    const check = () => {
      const m = proc.out.join('').match(/listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => reject(new Error(`standalone server exited (${code}): ${proc.err.join('')}`)));
  });
  const stats = async () =>
    (await (await fetch(`${url.replace(/\/v1$/, '')}/__fake/stats`)).json()) as { chat: number };
  return { url, proc, stats };
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
