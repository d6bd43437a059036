// Charts for the email reports and the web UI: pure functions from data to self-contained SVG strings
// (inline attributes, escaped text, a viewBox, a <title> and an aria-label). toPng is in ./png.js, apart,
// so importing the charts does not load the native rasteriser.
export { cdfChart, cdfDistance } from './cdf.js';
export { heatmap } from './heatmap.js';
export { histogramOverlay } from './histogram.js';
export { lineChart } from './line.js';
export { sparkline, sparklinePanel } from './sparkline.js';
export { esc, formatTick, formatValue, niceTicks, timeTicks } from './svg.js';
export type * from './types.js';
