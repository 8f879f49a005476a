// The plot layer's public surface (ubp.plot in the notebooks).
export * from './export';
export * from './figures';
export * from './html';
export * from './plotly-display';
export * from './report';
