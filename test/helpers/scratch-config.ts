// The configuration of a scratch run on generated MovieLens-format data under one temp folder: nothing downloaded,
// every stage folder under `dir`, groups small enough for a few hundred users, HTML figures only. Suites add their own
// sampling and curve sizes (top-level keys replace the frame's).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathsUnder } from '../../lib/core/config';

export function writeScratchConfig(file: string, dir: string, settings: Record<string, unknown>): string {
  fs.writeFileSync(
    file,
    JSON.stringify({
      download: false,
      dataDir: path.join(dir, 'datasets'),
      paths: pathsUnder(dir),
      preprocess: { movielens: { minDemographicGroupSize: 5 } },
      figures: { formats: ['html'] },
      ...settings,
    }),
  );
  return file;
}
