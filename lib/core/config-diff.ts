/** What a configuration changes against another: the "changes from the defaults" of a parameter cell and the report. */
import { type Config, type ModelConfig, defaultConfig, isPlainObject, withRun } from './config';

/** How a configuration differs from the defaults (a named run's own folders are not counted as changes). */
export function changesFromDefaults(config: Config): ConfigChange[] {
  return configChanges(withRun(defaultConfig(), config.run), config);
}

export interface ConfigChange {
  key: string;
  from: unknown;
  to: unknown;
}

/**
 * The leaves where two configurations differ (dotted keys; arrays compared whole, models by id), for a parameter
 * cell's "what this run changes" and the report. The data directory and the stage folders are left out: they are
 * locations, not parameters.
 */
export function configChanges(base: unknown, other: unknown, prefix = ''): ConfigChange[] {
  if (prefix === 'dataDir' || prefix === 'paths') return [];
  if (prefix === 'query.models' && Array.isArray(base) && Array.isArray(other)) {
    const byId = (list: unknown[]) => Object.fromEntries(list.map((m) => [(m as ModelConfig).id, m]));
    return configChanges(byId(base), byId(other), prefix);
  }
  if (isPlainObject(base) && isPlainObject(other)) {
    const keys = [...new Set([...Object.keys(base), ...Object.keys(other)])].sort();
    return keys.flatMap((k) => configChanges(base[k], other[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(base) === JSON.stringify(other) ? [] : [{ key: prefix, from: base, to: other }];
}
