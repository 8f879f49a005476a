// ubp.score: the optimistic and the measured distributions, entropies, curves and their statistics, and the score
// stage's files.
export { compareAligned, describeDifference, holm } from './compare';
export { type Interval, bootstrapCurveStats, entropyCurve } from './curves';
export { SETUPS, loadComparisons, loadPower, loadScores, scoreSummaryFile, scoresFile } from './files';
export { POWER_DELTAS, SLOPE_DELTAS, simulatedDeparture } from './power';
export { gapStats } from './gap';
export { measureCoverage } from './calibration';
export { knownAnswerSamples } from './known-answer';
export { elicitationExamples } from './elicited';
export { methodEntryId, methodEntryOf, withMethodEntries } from './method-entries';
export { logprobsDistribution, samplesDistribution, scoreMeasured, statedDistribution } from './measured';
export { simulatePositionTest } from './position-bias-calibration';
export {
  crossEntropy,
  crossEntropyTerms,
  entropy,
  entropyUnit,
  optimisticDistribution,
  scorePrompt,
  scoreResponses,
  smoothDistribution,
} from './score';
export { type ScoreSummary, curveOptions, loadScoreSummary, setupRanges, tooFewPromptsNote } from './summary';
