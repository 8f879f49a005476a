// The sample layer's public surface (ubp.sample in the notebooks).
export * from './algorithm';
export * from './display';
export * from './sample';
export * from './table1';
