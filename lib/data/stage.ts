/** The preprocess stage, declared once: raw dataset files → data/processed/<domain>/. */
import * as path from 'node:path';
import { descriptionOf, domainDir, preprocessParameters } from '../core/config';
import type { StageDefinition } from '../core/stage';
import { fileIdentity } from '../core/hash';
import type { ProcessedSummary } from '../core/types';
import { locateDataset } from './datasets';
import { type PreprocessOptions, runPreprocess } from './preprocess';
import { PROCESSED_FILES } from './processed';

export const preprocessStage: StageDefinition<PreprocessOptions, ProcessedSummary> = {
  name: 'preprocess',
  notebook: 'notebooks/01-preprocess.ipynb',
  code: ['core', 'data'],
  stampFile: (config, { domain }) => path.join(domainDir(config, 'processed', domain), '.stamp-preprocess.json'),
  upstream: () => [],
  // A described domain's files, proxies and filters are its description (the `config` part, which notebooks take over
  // as configuration, holds the built-in domains' "preprocess" section only).
  params: (config, { domain }) => ({
    config: Object.hasOwn(config.preprocess, domain) ? { preprocess: { [domain]: preprocessParameters(config, domain) } } : {},
    description: descriptionOf(config, domain),
  }),
  outputs: (config, { domain }) => PROCESSED_FILES.map((f) => ({ file: path.join(domainDir(config, 'processed', domain), f) })),
  async prepare(config, { domain }, opts, log) {
    const located = opts.located ?? (await locateDataset(config, domain, { log }));
    // Raw files are fingerprinted by name, size and mtime: hashing 2.4 GB on every run would cost more than it saves.
    return { external: Object.values(located.files).sort().map(fileIdentity), opts: { ...opts, located } };
  },
  async run({ config, ref, opts }) {
    const summary = await runPreprocess(config, ref.domain, opts);
    return { status: 'done', result: summary, detail: `${summary.users} users, ${summary.items} items, ${summary.interactions} interactions` };
  },
};
