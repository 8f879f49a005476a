// ubp.core: the configuration and the records that flow between the stages (the rest of core stays internal).
export { type Config, type DomainName, type ModelConfig } from './config-types';
export { ConfigError, addDataset, domainDir, loadConfig, mergeConfig } from './config';
export { readDescription } from './description';
export type { ProcessedSummary, ResponseRecord, SampleCounts, SampleRecord, ScoreRecord, Setup } from './types';
