import { formatValue, histogramOverlay, lineChart, sparklinePanel } from '../charts/index.js';
import { toPng } from '../charts/png.js';
import type { FeatureHistogram } from '../drift/service.js';
import type { ModelReport, ReportContent } from './content.js';
import type { ChartRenderer, InlineImage } from './render.js';
import { binLabel, largestShift } from './render.js';

/** Inline images per report at most (models come drifting first, so they keep theirs). */
export const MAX_IMAGES = 24;
const WIDTH = 640;

const pct = (v: number) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
const msText = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

function png(svg: string): Buffer {
  return toPng(svg, { width: WIDTH });
}

/** A file name part from a model or feature name. */
const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || 'x';

function trendImage(m: ModelReport, cid: string): InlineImage | null {
  const trend = m.charts.psiTrend.filter((f) => f.points.length > 0);
  if (trend.length === 0) return null;
  const kind = m.charts.trendKind === 'bucket' ? 'bucket' : 'rolling';
  const svg = lineChart({
    width: WIDTH,
    height: 260,
    title: `${m.model}: PSI of the most drifted features over the period (${kind} windows)`,
    yLabel: 'PSI',
    series: trend.map((f) => ({ name: f.feature, points: f.points.map((p) => ({ x: p.t, y: p.psi })) })),
    thresholds: [
      { y: m.charts.psiWarning, label: 'warning' },
      { y: m.charts.psiCritical, label: 'critical' },
    ],
  });
  const latest = trend
    .map((f) => `${f.feature} ${formatValue(f.points.at(-1)?.psi ?? Number.NaN)}`)
    .join(', ');
  return {
    cid,
    filename: `${slug(m.model)}-psi-trend.png`,
    content: png(svg),
    contentType: 'image/png',
    alt: `PSI trend of ${m.model} over the period (${kind} windows); latest: ${latest}; warning at ${formatValue(m.charts.psiWarning)}, critical at ${formatValue(m.charts.psiCritical)}`,
    model: m.model,
  };
}

/** The SVG of a model's traffic sparklines (requests, p95 latency, error rate per bucket). */
export function trafficSvg(m: ModelReport): string {
  const points = m.charts.traffic;
  const requests = points.map((p) => p.requests);
  const p95 = points.map((p) => p.p95 ?? Number.NaN);
  const errors = points.map((p) => p.errorRate ?? Number.NaN);
  const t = m.traffic;
  return sparklinePanel({
    width: WIDTH,
    rowHeight: 30,
    title: `${m.model}: traffic over the period`,
    rows: [
      // A row's number on the right is its last bucket (possibly still filling, e.g. in a preview that
      // ends now): the period's total goes beside the label, so "0" is not read as the period's traffic.
      {
        label: `Requests (${formatValue(t.requests)} in the period)`,
        values: requests,
        format: (v) => formatValue(v),
      },
      { label: 'Latency p95', values: p95, format: msText },
      { label: 'Error rate', values: errors, format: pct },
    ],
  });
}

function trafficImage(m: ModelReport, cid: string): InlineImage | null {
  const points = m.charts.traffic;
  if (points.length === 0 || points.every((p) => p.requests === 0)) return null;
  const svg = trafficSvg(m);
  const t = m.traffic;
  return {
    cid,
    filename: `${slug(m.model)}-traffic.png`,
    content: png(svg),
    contentType: 'image/png',
    alt: `Traffic of ${m.model} over the period: ${t.requests} ${t.requests === 1 ? 'request' : 'requests'}, latency p95 ${t.latency.p95 === null ? 'n/a' : msText(t.latency.p95)}, error rate ${t.error_rate === null ? 'n/a' : pct(t.error_rate)}`,
    model: m.model,
  };
}

function histogramImage(m: ModelReport, h: FeatureHistogram, cid: string): InlineImage {
  const svg = histogramOverlay({
    width: WIDTH,
    height: 240,
    title: `${m.model} · ${h.feature}: baseline vs current`,
    bins: h.bins.map((b) => ({ label: binLabel(b), baseline: b.baseline, current: b.window })),
    names: { baseline: 'Baseline', current: 'Current window' },
  });
  const shift = largestShift(h);
  return {
    cid,
    filename: `${slug(m.model)}-${slug(h.feature)}-histogram.png`,
    content: png(svg),
    contentType: 'image/png',
    alt: `Distribution of ${h.feature} (${m.model}), baseline vs current window${shift ? `; largest shift: ${shift}` : ''}`,
    model: m.model,
  };
}

/**
 * The report's inline charts, as PNG rendered from the SVG chart code the web UI shares: per model a PSI
 * trend of its most drifted features and a traffic / latency / error-rate sparkline, per drifted feature a
 * baseline-vs-current histogram. At most MAX_IMAGES in all.
 */
export const reportCharts: ChartRenderer = async (content: ReportContent) => {
  const images: InlineImage[] = [];
  const add = (image: InlineImage | null) => {
    if (image && images.length < MAX_IMAGES) images.push(image);
  };
  content.models.forEach((m, i) => {
    if (images.length >= MAX_IMAGES) return;
    add(trendImage(m, `trend-${i}@driftwatch`));
    add(trafficImage(m, `traffic-${i}@driftwatch`));
    m.charts.histograms.forEach((h, j) => {
      if (images.length < MAX_IMAGES) add(histogramImage(m, h, `hist-${i}-${j}@driftwatch`));
    });
  });
  return images;
};
