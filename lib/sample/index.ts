// The sample layer's public surface (ubp.sample in the notebooks).
export * from './sample';
