// The score layer's public surface (ubp.score in the notebooks).
export * from './curves';
export * from './score';
export * from './chi-square';
export * from './position-bias';
export * from './spread';
export * from './compare';
export * from './power';
export * from './files';
export * from './pairs';
export * from './summary';
