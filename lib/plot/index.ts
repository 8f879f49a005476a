// ubp.plot: the figures, their display in a notebook, HTML tables, and the report's tables as CSV and LaTeX.
export { detailFigure } from './detail-figure';
export { proxyHistoryFigure } from './distribution-figure';
export { exportFigure } from './export';
export { type BuiltFigure, curveOf, figureOptions } from './figure-common';
export { buildFigures, gapFigure, loadPlotInputs, trendUncertainty } from './figures';
export { dataFrameHtml, escapeHtml, htmlTable } from './html';
export { closeDisplayRenderer, displaySvg, notebookPlotlyInit, showFigure } from './plotly-display';
export { PAPER_TABLE1, table1Figure } from './table1-figure';
export { type Cell, type Table, TABLE_NAMES, tableCsv, tableHtml, tableLatex } from './table-format';
export { domainTables, exportTables } from './tables';
export type { TrendFigureData } from './trend-figure';
