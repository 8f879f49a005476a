// The query layer's public surface (ubp.query in the notebooks).
export * from './adapt';
export * from './baselines';
export * from './batch';
export * from './families';
export * from './llm';
export * from './models';
export * from './parse-answer';
export * from './pilot';
export * from './prompt';
export * from './retry';
export * from './runner';
export * from './store';
export * from './tokens';
