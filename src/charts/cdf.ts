import {
  dimension,
  el,
  esc,
  extent,
  formatTick,
  formatValue,
  INK,
  MUTED,
  n,
  niceTicks,
  noData,
  plotFrame,
  svgDocument,
  textWidth,
  truncate,
  xTickMark,
} from './svg.js';
import type { CdfOptions, CdfSeries } from './types.js';

const BASELINE = { stroke: '#424a53', dash: '6 3' };
const CURRENT = { stroke: '#0969da', dash: undefined };
const KS = '#cf222e';

/** Finite points sorted by x, shares clamped to 0…1. */
function clean(s: CdfSeries | undefined): { x: number; y: number }[] {
  return (s?.points ?? [])
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .map((p) => ({ x: p.x, y: Math.max(0, Math.min(1, p.y)) }))
    .sort((a, b) => a.x - b.x);
}

/** The step function's value at x: the share of the last point at or before x (0 before the first). */
function at(points: { x: number; y: number }[], x: number): number {
  let y = 0;
  for (const p of points) {
    if (p.x > x) break;
    y = p.y;
  }
  return y;
}

/**
 * The largest vertical distance between two step CDFs (the Kolmogorov–Smirnov statistic of what they
 * describe), where it is, and both curves' values there; null when either has no point.
 */
export function cdfDistance(
  a: CdfSeries,
  b: CdfSeries,
): { d: number; x: number; baseline: number; current: number } | null {
  const pa = clean(a);
  const pb = clean(b);
  if (pa.length === 0 || pb.length === 0) return null;
  let best: { d: number; x: number; baseline: number; current: number } | null = null;
  for (const x of [...new Set([...pa, ...pb].map((p) => p.x))].sort((u, v) => u - v)) {
    const ya = at(pa, x);
    const yb = at(pb, x);
    const d = Math.abs(ya - yb);
    if (best === null || d > best.d + 1e-12) best = { d, x, baseline: ya, current: yb };
  }
  return best;
}

/**
 * Baseline and current cumulative distributions as two step lines (the baseline grey and dashed, the
 * current blue and solid, named in a legend), with the Kolmogorov–Smirnov distance marked: a red vertical
 * segment where the curves are furthest apart, labelled "D = …". Never throws on odd data.
 */
export function cdfChart(o: CdfOptions): string {
  const width = dimension(o.width, 480, 160);
  const height = dimension(o.height, 260, 120);
  const title = String(o.title ?? '');
  const base = clean(o.baseline);
  const cur = clean(o.current);
  const names = {
    baseline: String(o.baseline?.name ?? 'Baseline'),
    current: String(o.current?.name ?? 'Current'),
  };
  const fontSize = 11;
  const xs = [...base, ...cur].map((p) => p.x);
  let [x0, x1] = xs.length > 0 ? extent(xs) : [0, 1];
  if (x0 === x1) {
    const pad = x0 === 0 ? 1 : Math.abs(x0) * 0.1;
    x0 -= pad;
    x1 += pad;
  }
  const xt = niceTicks(x0, x1, Math.max(2, Math.min(7, Math.floor(width / 90))));
  const xFormat = o.xFormat ?? ((v: number) => formatTick(v, xt.step));
  const yTicks = [0, 0.25, 0.5, 0.75, 1];
  const yLabels = yTicks.map((v) => `${Math.round(v * 100)}%`);
  const left = 8 + Math.max(...yLabels.map((l) => textWidth(l, fontSize))) + 8;
  const top = 36;
  const bottom = o.xLabel ? 40 : 26;
  const right = 14;
  const plot = {
    x: left,
    y: top,
    w: Math.max(10, width - left - right),
    h: Math.max(10, height - top - bottom),
  };
  const sx = (x: number) => plot.x + ((x - xt.min) / (xt.max - xt.min)) * plot.w;
  const sy = (y: number) => plot.y + plot.h - y * plot.h;

  const parts: string[] = plotFrame(plot, yTicks, yLabels, sy, fontSize);
  for (const v of xt.values) {
    const x = sx(v);
    parts.push(xTickMark(plot, x));
    parts.push(
      el(
        'text',
        { x, y: plot.y + plot.h + 16, 'text-anchor': 'middle', 'font-size': fontSize, fill: MUTED },
        esc(String(xFormat(v))),
      ),
    );
  }
  if (o.xLabel) {
    parts.push(
      el(
        'text',
        {
          x: plot.x + plot.w / 2,
          y: plot.y + plot.h + 32,
          'text-anchor': 'middle',
          'font-size': fontSize,
          fill: INK,
        },
        esc(truncate(String(o.xLabel), plot.w, fontSize)),
      ),
    );
  }
  parts.push(
    el('path', {
      d: `M${n(plot.x)} ${n(plot.y)}V${n(plot.y + plot.h)}H${n(plot.x + plot.w)}`,
      fill: 'none',
      stroke: MUTED,
      'stroke-width': 1,
    }),
  );

  // A step line: flat at 0 from the left edge, up at each point, flat to the right edge at the last share.
  const step = (points: { x: number; y: number }[]) => {
    let d = `M${n(plot.x)} ${n(sy(0))}`;
    for (const p of points) d += `H${n(sx(p.x))}V${n(sy(p.y))}`;
    return `${d}H${n(plot.x + plot.w)}`;
  };
  for (const [name, points, style] of [
    [names.baseline, base, BASELINE],
    [names.current, cur, CURRENT],
  ] as const) {
    if (points.length === 0) continue;
    parts.push(
      el(
        'g',
        { 'data-series': name },
        el('path', {
          d: step(points),
          fill: 'none',
          stroke: style.stroke,
          'stroke-width': 2,
          'stroke-dasharray': style.dash,
          'stroke-linejoin': 'round',
        }),
      ),
    );
  }

  const ks = cdfDistance({ name: names.baseline, points: base }, { name: names.current, points: cur });
  if (ks && ks.d > 0) {
    const x = sx(ks.x);
    const y1 = sy(ks.baseline);
    const y2 = sy(ks.current);
    const label = `D = ${formatValue(ks.d)}`;
    const w = textWidth(label, fontSize);
    const onRight = x + 6 + w <= plot.x + plot.w;
    parts.push(
      el(
        'g',
        { 'data-role': 'ks', 'data-d': String(ks.d), 'data-x': String(ks.x) },
        el(
          'title',
          {},
          esc(
            `Largest distance ${label} at ${xFormat(ks.x)}: ${names.baseline.toLowerCase()} ${Math.round(ks.baseline * 1000) / 10}%, ${names.current.toLowerCase()} ${Math.round(ks.current * 1000) / 10}%`,
          ),
        ) +
          el('line', { x1: x, y1, x2: x, y2, stroke: KS, 'stroke-width': 3 }) +
          el('line', { x1: x - 4, y1, x2: x + 4, y2: y1, stroke: KS, 'stroke-width': 2 }) +
          el('line', { x1: x - 4, y1: y2, x2: x + 4, y2, stroke: KS, 'stroke-width': 2 }) +
          el(
            'text',
            {
              x: onRight ? x + 7 : x - 7,
              y: (y1 + y2) / 2 + 4,
              'text-anchor': onRight ? 'start' : 'end',
              'font-size': fontSize,
              'font-weight': 'bold',
              fill: KS,
            },
            esc(label),
          ),
      ),
    );
  }
  if (base.length === 0 && cur.length === 0) {
    parts.push(noData(plot));
  }

  // legend at the top right, a line sample of each style
  let lx = width - right;
  for (const entry of [
    { name: names.current, style: CURRENT },
    { name: names.baseline, style: BASELINE },
  ]) {
    const w = 30 + textWidth(entry.name, fontSize);
    lx -= w;
    parts.push(
      el(
        'g',
        { 'data-role': 'legend' },
        el('line', {
          x1: lx,
          y1: 14,
          x2: lx + 24,
          y2: 14,
          stroke: entry.style.stroke,
          'stroke-width': 2,
          'stroke-dasharray': entry.style.dash,
        }) + el('text', { x: lx + 28, y: 18, 'font-size': fontSize, fill: INK }, esc(entry.name)),
      ),
    );
    lx -= 12;
  }
  parts.push(
    el(
      'text',
      { x: 8, y: 18, 'font-size': 13, 'font-weight': 'bold', fill: INK },
      esc(truncate(title, Math.max(0, lx - 8), 13)),
    ),
  );
  const desc = ks
    ? `Largest distance between the cumulative distributions: D = ${formatValue(ks.d)} at ${xFormat(ks.x)}`
    : 'Not enough data for both distributions';
  return svgDocument({
    width,
    height,
    title: title || 'Cumulative distributions',
    desc,
    body: parts.join(''),
  });
}
