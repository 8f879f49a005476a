// The plot layer's public surface (ubp.plot in the notebooks). figure-common's layout helpers stay internal.
export * from './export';
export * from './figures';
export {
  SETUP_TITLES,
  settingLabel,
  domainTitle,
  type ModelStyle,
  MODEL_PALETTE,
  ORACLE_STYLE,
  RANDOM_STYLE,
  IDENTITY_LINE,
  modelStyles,
  type FigureOptions,
  type FigureOverrides,
  figureOptions,
  type CurveData,
  curveOf,
  type BuiltFigure,
} from './figure-common';
export * from './trend-figure';
export * from './distribution-figure';
export * from './detail-figure';
export * from './table1-figure';
export * from './html';
export * from './plotly-display';
export * from './report';
