/** The sample stage, declared once: processed data → data/samples/<domain>/ (Algorithm 1). */
import * as path from 'node:path';
import { domainDir } from '../core/config';
import type { StageDefinition } from '../core/stage';
import type { SampleOptions, SampleResult } from './algorithm';
import { SAMPLE_COUNTS_FILE, SAMPLE_STOPS_FILE, SAMPLES_FILE, runSample } from './sample';

export const sampleStage: StageDefinition<SampleOptions, SampleResult> = {
  name: 'sample',
  notebook: 'notebooks/02-sample.ipynb',
  code: ['core', 'data', 'sample'],
  stampFile: (config, { domain }) => path.join(domainDir(config, 'samples', domain), '.stamp-sample.json'),
  upstream: ({ domain }) => [{ stage: 'preprocess', domain }],
  // Target entropies are computed in score.logBase, so samples depend on it.
  params: (config, { domain }) => ({
    config: {
      seed: config.seed,
      sample: { ...config.sample, settings: { [domain]: config.sample.settings[domain] } },
      score: { logBase: config.score.logBase },
    },
  }),
  outputs: (config, { domain }) =>
    [SAMPLES_FILE, SAMPLE_COUNTS_FILE, SAMPLE_STOPS_FILE].map((f) => ({
      file: path.join(domainDir(config, 'samples', domain), f),
    })),
  async run({ config, ref, opts }) {
    const result = runSample(config, ref.domain, opts);
    return { status: 'done', result, detail: `${result.samples.length} prompts` };
  },
};
