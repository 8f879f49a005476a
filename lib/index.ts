// The public surface that notebooks and the CLI import (compiled to build/lib/index.js).
export * from './config';
export * from './io';
export * from './rng';
export * from './progress';
export * from './types';
export * from './processed';
export * from './models';
