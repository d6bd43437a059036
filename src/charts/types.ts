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
  /** Vertical lines at these times, labelled at the top (only those inside the time range are drawn). */
  markers?: TimeMarker[];
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

/** A vertical line at a time on a line chart: a deploy, a baseline activation. */
export interface TimeMarker {
  x: number;
  label: string;
}

export interface HeatmapRow {
  /** The row's name (a feature); written at the left, and in each cell's tooltip. */
  label: string;
  /** One value per column (same order as `columns`); null or non-finite: no value (hatched cell). */
  values: (number | null)[];
  /** A link for the row label (in a web page the label becomes an <a>). */
  href?: string;
  /**
   * Per column, true where the value rests on too few values for a verdict: drawn in a neutral
   * "insufficient data" style, never in a level's colour.
   */
  insufficient?: boolean[];
}

export interface HeatmapOptions {
  width: number;
  /** Height of one row in px (the chart grows with the rows). */
  rowHeight?: number;
  /** Column times, ms since the epoch (UTC), oldest first: the windows' starts, or ends with `columnTime`. */
  columns: number[];
  /** Whether `columns` are the windows' starts (default) or ends; said in tooltips and labels. */
  columnTime?: 'start' | 'end';
  rows: HeatmapRow[];
  /** Two cut points for the colour and mark of a cell, e.g. PSI 0.1 and 0.25. */
  levels: { warning: number; critical: number };
  /** What a value is ("PSI"): in the title and each cell's tooltip. */
  valueLabel: string;
  title?: string;
  /** Formats a value for tooltips; defaults to 3 significant digits. */
  format?: (v: number) => string;
}

/** One cumulative distribution: points (x, share ≤ x) with x ascending and shares in 0…1. */
export interface CdfSeries {
  name: string;
  points: { x: number; y: number }[];
}

export interface CdfOptions {
  width: number;
  height: number;
  baseline: CdfSeries;
  current: CdfSeries;
  title: string;
  /** X axis label (the feature). */
  xLabel?: string;
  /** Formats x ticks and the KS label's position; defaults to nice ticks. */
  xFormat?: (v: number) => string;
}
