// The inputs of the charts. Defined here, not imported, so src/charts depends on nothing of driftwatch.

export interface Point {
  /** Time in ms since the epoch (UTC). */
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
  /** Draw this series dashed whatever its place (e.g. a baseline or a forecast). */
  dashed?: boolean;
}

export interface Threshold {
  y: number;
  label: string;
}

export interface LineChartOptions {
  width: number;
  height: number;
  series: Series[];
  /** Horizontal reference lines, e.g. PSI 0.1 and 0.25; always inside the y range. */
  thresholds?: Threshold[];
  yLabel: string;
  /** The chart's <title> and aria-label; defaults to "<yLabel> over time". */
  title?: string;
  /** Labels of the time ticks; defaults to UTC dates (or date and time for ranges under a few days). */
  xFormat?: (ms: number) => string;
  /** Start the y axis at zero when every value is positive (default true: PSI, counts, latency). */
  zero?: boolean;
}

export interface SparklineOptions {
  width: number;
  height: number;
  values: number[];
  /** What the values are ("p95 latency, ms"): the <title>, the aria-label and the text beside the line. */
  label: string;
  /** Formats the last value written at the right; defaults to 3 significant digits. */
  format?: (v: number) => string;
}

export interface SparklinePanelOptions {
  width: number;
  /** Height of each row in px (default 28). */
  rowHeight?: number;
  /** Shown bold at the top when given; the <title> either way. */
  title?: string;
  rows: { label: string; values: number[]; format?: (v: number) => string }[];
}

export interface Bin {
  label: string;
  baseline: number;
  current: number;
}

export interface HistogramOverlayOptions {
  width: number;
  height: number;
  bins: Bin[];
  title: string;
  /** Formats axis values; defaults to percent, the values being shares (0…1). */
  yFormat?: (v: number) => string;
  /** Legend names; default "Baseline" and "Current". */
  names?: { baseline: string; current: string };
}
