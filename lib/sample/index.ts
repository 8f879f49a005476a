// ubp.sample: Algorithm 1, its files, and Table 1.
export { sampleDomain, sampleTrajectory } from './algorithm';
export { readableSample } from './display';
export { reorderedSample } from './orders';
export { loadSamples, samplesFile } from './sample';
export {
  NO_PAPER_COUNTERPART,
  PAPER_SAMPLE_COUNTS,
  type SampleCountRow,
  sampleCountRows,
  sampleCountTotalRows,
} from './table1';
