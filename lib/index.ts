// The public surface that notebooks import (compiled to build/lib/index.js): one namespace per layer, in stage order,
// e.g. `ubp.sample.runSample`, `ubp.score.optimisticDistribution`. The CLI and tests import the modules directly.
export * as core from './core';
export * as data from './data';
export * as sample from './sample';
export * as query from './query';
export * as score from './score';
export * as plot from './plot';
export * as pipeline from './pipeline';
export * as stages from './stages';
export * as notebook from './notebook';
