// The core layer's public surface (ubp.core in the notebooks).
export * from './canonical-json';
export * from './config';
export * from './config-diff';
export * from './entropy';
export * from './io';
export * from './progress';
export * from './rng';
export * from './stamps';
export * from './types';
