// Kept apart from query-fixture.ts, which the query benchmark imports: this module registers node:test hooks.
import { after, before } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type Config, type ModelConfig } from '../../lib/core/config';
import { FakeOpenAIServer } from './fake-openai-server';
import { assertSecretsAbsent, collectingLogger, makeQueryFixture, type QueryFixture } from './query-fixture';

/**
 * The shared frame of a suite that queries a fake OpenAI-compatible server: the server started before the tests and
 * closed after them, the API key in the environment, temp fixtures, a config per fixture, a logger, and at the end the
 * check that no file or log line of the suite holds a secret.
 */
export function fakeServerSuite(opts: {
  keyEnv: string;
  key: string;
  secrets: string[];
  tmpPrefix: string;
  server: Parameters<typeof FakeOpenAIServer.start>[0];
}) {
  let server: FakeOpenAIServer | undefined;
  const allLogs: string[] = [];
  const roots: string[] = [];
  before(async () => {
    process.env[opts.keyEnv] = opts.key;
    server = await FakeOpenAIServer.start(opts.server);
  });
  after(async () => {
    await server?.close();
    assertSecretsAbsent(roots, allLogs, opts.secrets);
    delete process.env[opts.keyEnv];
  });
  return {
    allLogs,
    roots,
    get server(): FakeOpenAIServer {
      if (!server) throw new Error('the fake server is started in before(); use it inside a test');
      return server;
    },
    fixture(prompts: number): QueryFixture {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), opts.tmpPrefix));
      roots.push(root);
      return makeQueryFixture(root, { prompts });
    },
    configFor(fx: QueryFixture, models: Partial<ModelConfig>[] = [], query: Record<string, unknown> = {}): Config {
      return loadConfig({ env: {}, overrides: { paths: fx.paths, query: { ...query, models } } });
    },
    logger: () => collectingLogger(allLogs),
  };
}
