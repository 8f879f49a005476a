// The data layer's public surface (ubp.data in the notebooks).
export * from './datasets';
export * from './lastfm';
export * from './movielens';
export * from './preprocess';
export * from './processed';
export * from './regions';
export * from './synthetic';
export * from './described';
export * from './table-reader';
export * from './synthetic-360k';
