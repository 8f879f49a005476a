// Issue 23, "redaction that does not depend on exactness": an API key with a space around it, echoed whole or in
// pieces by a 401, a 500 and an HTML 200 cut at 200 characters, appears in no message and no file; provider key shapes
// are redacted whoever they belong to.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ModelConfig } from '../lib/core/config';
import { redact, registerSecret, SECRET_WINDOW } from '../lib/core/secrets';
import { generateSynthetic } from '../lib/data/synthetic';
import { readCompletion } from '../lib/query/llm';
import { readApiKey } from '../lib/query/keys';
import { NotACompletionError } from '../lib/query/retry';
import { runCli } from './helpers/cli-child';
import { FakeOpenAIServer } from './helpers/fake-openai-server';
import { filesUnder } from './helpers/query-fixture';
import { writeScratchConfig } from './helpers/scratch-config';

/** Every piece of `key` of the redaction window's length (the key itself, trimmed, included by them). */
function pieces(key: string): string[] {
  return Array.from({ length: key.length - SECRET_WINDOW + 1 }, (_, i) => key.slice(i, i + SECRET_WINDOW));
}

/** The pieces of `key` that `text` still holds. */
function leaks(text: string, key: string): string[] {
  return pieces(key).filter((p) => text.includes(p));
}

// 44 characters of no provider's shape: only the registry of keys read can catch it.
const KEY = 'Zq7pLm3xV9tR2wK8nB4cY6hJ1dF5gS0aQeWuIoPzXcVb';

test('a registered key is redacted raw, trimmed and in every 12-character piece; an 11-character piece is not a window', () => {
  const key = 'Hn4Rt8Lw2Qz6Xc1Vb5Nm9Kj3Pd7Fg0As';
  registerSecret(`${key} \n`);
  const text = [
    `raw "${key} \n"`,
    `trimmed ${key}`,
    `cut at 20 ${key.slice(0, 20)}`,
    `a piece from the middle ${key.slice(9, 21)}`,
    `the end ${key.slice(-12)}`,
  ].join(' | ');
  const out = redact(text);
  assert.deepEqual(leaks(out, key), []);
  assert.equal(
    out,
    'raw "[REDACTED]" | trimmed [REDACTED] | cut at 20 [REDACTED] | a piece from the middle [REDACTED] | the end [REDACTED]',
  );
  assert.equal(redact(`short ${key.slice(3, 14)}`), `short ${key.slice(3, 14)}`, 'fewer characters than a window stay');
});

test('keys of known providers are redacted by their shape, with the prefix kept', () => {
  const samples: [string, string][] = [
    ['OpenAI', 'sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h'],
    ['OpenAI project', 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_Ab7dEf0hIj3kLm6nOp9qRs2tUv5w'],
    ['Anthropic', 'sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6nOp9q-Rs2tUv5wXyAA'],
    ['OpenRouter', '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'],
    ['Google', 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'],
    ['Groq', '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'],
    ['Together (hex)', '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9'],
    ['Together (tgp)', 'tgp_v1_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h'],
  ];
  for (const [provider, key] of samples) {
    const out = redact(`HTTP 401: Incorrect API key provided: ${key}. See the docs.`);
    assert.deepEqual(leaks(out, key.slice(-24)), [], `${provider}: ${out}`);
    assert.match(out, /^HTTP 401: Incorrect API key provided: (sk-|AIza|gsk_|tgp_)?\[REDACTED\]\. See the docs\.$/);
  }
  assert.equal(redact('a masked echo: sk-proj-****************Wxyz'), 'a masked echo: sk-[REDACTED]');
  // Not keys: a short hex digest and a store key cut to 12 digits stay readable.
  assert.equal(
    redact('md5 0a1b2c3d4e5f60718293a4b5c6d7e8f9, key 0a1b2c3d4e5f…'),
    'md5 0a1b2c3d4e5f60718293a4b5c6d7e8f9, key 0a1b2c3d4e5f…',
  );
});

test('a short key is redacted where its client passes it, not from every message of the process', () => {
  registerSecret('xyz');
  assert.equal(redact('xyzzy'), 'xyzzy', 'a placeholder key of a local server does not cut words elsewhere');
  assert.equal(redact('key xyz refused', ['xyz']), 'key [REDACTED] refused');
});

test('an HTML 200 whose key straddles the 200-character cut: the body is redacted before it is cut', async () => {
  const key = 'Pw3Ls9Dk1Fj7Gh5Qa2Ze8Xc4Vb6Nm0RtYuIo1Lk2Jh3G';
  const page = `<!DOCTYPE html><html><body>${'x'.repeat(180 - 27)}${key} is not allowed here</body></html>`;
  assert.equal(page.indexOf(key), 180);
  assert.equal(leaks(page.slice(0, 200), key).length, 20 - SECRET_WINDOW + 1, 'a cut first would leave 20 characters');
  const response = new Response(page, { status: 200, headers: { 'content-type': 'text/html' } });
  const err = await readCompletion(response, [key]).then(
    () => assert.fail('an HTML page is not a completion'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof NotACompletionError);
  assert.deepEqual(leaks(err.bodyStart, key), []);
  assert.equal(err.bodyStart, `${page.slice(0, 180)}[REDACTED] is not al`, 'redacted, then cut at 200 characters');
});

test('a key with spaces or a line break around it is used trimmed, with one warning naming the variable, not the key', () => {
  const model = { id: 'm', apiKeyEnv: 'UBP_TEST_PADDED_KEY' } as ModelConfig;
  const lines: string[] = [];
  const env = { UBP_TEST_PADDED_KEY: `  ${KEY}\n` };
  assert.equal(
    readApiKey(model, env, (l) => lines.push(l)),
    KEY,
  );
  assert.equal(
    readApiKey(model, env, (l) => lines.push(l)),
    KEY,
  );
  assert.deepEqual(lines, [
    'm: warning: the API key in UBP_TEST_PADDED_KEY has spaces or a line break around it; it is used without them (remove them from the variable to silence this)',
  ]);
  assert.equal(readApiKey(model, { UBP_TEST_PADDED_KEY: ' \n' }), undefined, 'only whitespace is no key');
});

// ---------- end to end: the command line, two domains, a report ----------

let server: FakeOpenAIServer;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-redact-'));
  const datasets = path.join(dir, 'datasets');
  generateSynthetic(datasets, { domain: 'movielens', users: 400, items: 300, interactions: 24000, seed: 11 });
  generateSynthetic(datasets, { domain: 'lastfm', users: 40, items: 60000, interactions: 120000, seed: 3 });
  server = await FakeOpenAIServer.start({ latencyMs: 2 });
});

after(async () => {
  await server?.close();
});

test('a key with a trailing space, echoed by a 500, a 401 and an HTML 200 cut at 200 characters, is nowhere in the output, the data or the report of a two-domain run', async () => {
  const sent = (authorization: unknown) => String(authorization).replace(/^Bearer /, '');
  let music = 0;
  let movies = 0;
  server.script = ({ body, headers }) => {
    const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
    if (/\bmovie\b/.test(user)) {
      // Movies: the first request fails with a 500 echoing the key as configured (with its space) and a piece of it;
      // its retry and every other request are answered, so the domain runs to its figures and the report.
      if (++movies === 1)
        return {
          kind: 'error',
          status: 500,
          message: `upstream rejected "${KEY} " (token ${KEY.slice(5, 30)}...)`,
        };
      return undefined;
    }
    // Music: three 401s echoing the key the server received, then HTML pages with the key across the 200th
    // character: five of them in a row stop the model with the body's start in the reason, and the domain fails.
    if (++music <= 3)
      return { kind: 'error', status: 401, message: `Incorrect API key provided: ${sent(headers.authorization)}` };
    const key = sent(headers.authorization);
    return {
      kind: 'html',
      page: `<!DOCTYPE html><html><body>${'y'.repeat(180 - 27)}${key}</body></html>`,
    };
  };
  const config = writeScratchConfig(path.join(dir, 'run.json'), dir, {
    preprocess: { movielens: { minDemographicGroupSize: 5 }, lastfm: { minListeningEvents: 1000 } },
    sample: {
      drawsPerSetting: 6,
      settings: { movielens: { none: [], age: ['age'] }, lastfm: { none: [], gender: ['gender'] } },
    },
    curves: { bins: 20, window: 3, bootstrap: 10 },
    query: {
      models: [
        {
          id: 'local-llm',
          provider: 'openai-compatible',
          model: 'fake-llama',
          baseURL: server.url,
          apiKeyEnv: 'UBP_TEST_KEY',
          concurrency: 1,
          inputPricePerMTok: 1,
          outputPricePerMTok: 2,
        },
      ],
    },
  });
  const run = await runCli(['--config', config, '--domains', 'movielens,lastfm', '--models', 'random,local-llm'], {
    UBP_TEST_KEY: `${KEY} `,
  });
  try {
    assert.equal(run.code, 1, run.out);
    // The cases happened, and were reported (redacted).
    assert.ok(movies > 1 && music >= 8, `${movies} movie and ${music} music requests`);
    assert.match(
      run.out,
      /local-llm: HTTP 500: (500 )?upstream rejected "\[REDACTED\]" \(token \[REDACTED\]\.\.\.\); retry 1\//,
    );
    assert.match(run.out, /HTTP 401: (401 )?Incorrect API key provided: \[REDACTED\] \(not retryable\)/);
    assert.match(
      run.out,
      /Domain lastfm failed: .*body starts "<!DOCTYPE html><html><body>y+\[REDACTED\]<\/body><\/h"/,
    );
    assert.match(run.out, /warning: the API key in UBP_TEST_KEY has spaces or a line break around it/);
    const report = path.join(dir, 'figures', 'report.html');
    assert.ok(fs.existsSync(report), `the report is written for movielens: ${run.out}`);
    assert.match(fs.readFileSync(report, 'utf8'), /body starts .*\[REDACTED\]/);
    // Nothing of the key (with its space, trimmed, or any 12 characters of it) in the output or any file.
    assert.deepEqual(leaks(run.out, KEY), [], 'console');
    const files = filesUnder(dir);
    assert.ok(files.some((f) => f.endsWith('.stamp-query-lastfm.json')));
    for (const file of files) assert.deepEqual(leaks(fs.readFileSync(file, 'latin1'), KEY), [], file);
  } finally {
    server.script = undefined;
  }
});
