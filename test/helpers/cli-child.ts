/** Runs the real command line (`node build/cli/main.js`, what `npm start` runs) in a child process. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../../lib/core/config';

const cli = path.join(repoRoot(), 'build', 'cli', 'main.js');

export interface CliRun {
  code: number;
  out: string;
  seconds: number;
}

/** UBP_CONFIG and UBP_DATA_DIR are cleared so the caller's environment cannot leak into the run. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: repoRoot(),
      env: { ...process.env, UBP_CONFIG: '', UBP_DATA_DIR: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, seconds: (Date.now() - t0) / 1000 }));
  });
}
