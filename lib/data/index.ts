// ubp.data: finding a dataset, preprocessing it, and reading processed data back.
export { DatasetUnavailableError, locateDataset } from './datasets';
export { type DemographicTables, runPreprocess } from './preprocess';
export { loadProcessed } from './processed';
