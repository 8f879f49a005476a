/**
 * The plot stage, declared once: scores + the score summary → figures/<domain>/ (figure-data.json, figures.json, the
 * tables as CSV and LaTeX under tables/, and the exported figures). Its inputs are the score stage's outputs, the
 * summary's part for this domain included, so a changed curve parameter (which changes the summary) re-plots.
 */
import * as path from 'node:path';
import type { StageDefinition } from '../core/stage';
import { FIGURE_DATA_FILE, FIGURE_SPECS_FILE, type PlotOptions, type PlotResult, figuresDir, runPlot } from './figures';
import { tableFiles } from './tables';

export const plotStage: StageDefinition<PlotOptions, PlotResult> = {
  name: 'plot',
  notebook: 'notebooks/05-plot.ipynb',
  code: ['core', 'data', 'sample', 'query', 'score', 'plot'],
  stampFile: (config, { domain }) => path.join(figuresDir(config, domain), '.stamp-plot.json'),
  upstream: ({ domain, models }) => [
    { stage: 'sample', domain },
    { stage: 'score', domain, models },
  ],
  params: (config, ref) => ({ config: { figures: config.figures }, models: ref.models ?? [] }),
  outputs: (config, { domain }) => [
    ...[FIGURE_DATA_FILE, FIGURE_SPECS_FILE].map((f) => ({ file: path.join(figuresDir(config, domain), f) })),
    ...tableFiles(config, domain).map((file) => ({ file })),
  ],
  async run({ config, ref, opts, code }) {
    const models = ref.models ?? [];
    const result = await runPlot(config, ref.domain, models, { ...opts, code });
    const declared = new Set(plotStage.outputs(config, ref).map((o) => o.file));
    const files = result.files.filter((f) => !declared.has(f));
    const detail = `${result.files.length} files${result.skipped.length ? `; not exported: ${result.skipped.map((s) => s.format).join(', ')}` : ''}`;
    // Formats that could not be exported leave the stage pending: a later run retries them.
    if (result.skipped.length)
      return {
        status: 'pending',
        result,
        detail: `pending: formats not exported: ${result.skipped.map((s) => s.format).join(', ')}`,
      };
    return { status: 'done', result, detail, files };
  },
};
