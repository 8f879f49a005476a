// ubp.sample: Algorithm 1, its files, and Table 1.
export { sampleDomain, sampleTrajectory } from './algorithm';
export { readableSample } from './display';
export { reorderedSample } from './orders';
export { loadSamples, samplesFile } from './sample';
export { PAPER_SAMPLE_COUNTS, type SampleCountRow, sampleCountRows } from './table1';
