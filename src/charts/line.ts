import {
  DASHES,
  dimension,
  el,
  esc,
  extent,
  formatTick,
  formatValue,
  INK,
  MARKERS,
  MUTED,
  marker,
  n,
  niceTicks,
  noData,
  PALETTE,
  plotFrame,
  svgDocument,
  textWidth,
  timeTicks,
  truncate,
  utcDate,
  xTickMark,
} from './svg.js';
import type { LineChartOptions, Point } from './types.js';

const HOUR = 3_600_000;
/** Rows of marker labels at the top of the plot before a label may overlap another. */
const MARKER_ROWS = 4;

/** A label's box in px. */
interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

const overlaps = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
const collides = (box: Box, taken: readonly Box[]) => taken.some((b) => overlaps(b, box));

/** The series' points with finite x, sorted by time, split into runs at every non-finite y (a gap). */
function runs(points: Point[]): Point[][] {
  const sorted = points.filter((p) => Number.isFinite(p.x)).sort((a, b) => a.x - b.x);
  const out: Point[][] = [];
  let current: Point[] = [];
  for (const p of sorted) {
    if (Number.isFinite(p.y)) current.push(p);
    else if (current.length > 0) {
      out.push(current);
      current = [];
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * A time-series line chart: one line per series (each its own colour, dash pattern and marker shape),
 * dashed threshold lines with their labels, UTC time ticks, nice y ticks and a legend below the plot.
 * Points whose x or y is not finite are left out (a y gap breaks the line). Never throws on odd data:
 * no points at all draws the axes and "No data".
 */
export function lineChart(o: LineChartOptions): string {
  const width = dimension(o.width, 640, 120);
  const height = dimension(o.height, 320, 100);
  const yLabel = String(o.yLabel ?? '');
  const title = o.title ?? (yLabel ? `${yLabel} over time` : 'Line chart');
  const series = (o.series ?? []).map((s, i) => ({
    name: String(s.name ?? ''),
    runs: runs(s.points ?? []),
    color: PALETTE[i % PALETTE.length] ?? INK,
    // Colour, dash and marker cycle out of step, so the 7th series is not the 1st one again.
    dash: s.dashed
      ? (DASHES[((i + Math.floor(i / PALETTE.length)) % (DASHES.length - 1)) + 1] ?? '6 3')
      : DASHES[(i + Math.floor(i / PALETTE.length)) % DASHES.length],
    shape: MARKERS[(i + 2 * Math.floor(i / PALETTE.length)) % MARKERS.length] ?? 'circle',
  }));
  const thresholds = (o.thresholds ?? []).filter((t) => Number.isFinite(t.y));
  const all = series.flatMap((s) => s.runs.flat());

  // Legend rows under the plot: entries flow left to right and wrap.
  const fontSize = 11;
  const entryWidths = series.map((s) => 34 + textWidth(s.name, fontSize) + 16);
  const legendRows: { index: number; x: number }[][] = [];
  {
    let row: { index: number; x: number }[] = [];
    let x = 0;
    const avail = width - 24;
    entryWidths.forEach((w0, index) => {
      const w = Math.min(w0, avail);
      if (row.length > 0 && x + w > avail) {
        legendRows.push(row);
        row = [];
        x = 0;
      }
      row.push({ index, x });
      x += w;
    });
    if (row.length > 0) legendRows.push(row);
  }
  const legendHeight = Math.min(legendRows.length, 4) * 16;

  const ys = [...all.map((p) => p.y), ...thresholds.map((t) => t.y)];
  let [lo, hi] = ys.length > 0 ? extent(ys) : [0, 1];
  if ((o.zero ?? true) && lo > 0) lo = 0;
  const yt = niceTicks(lo, hi, Math.max(2, Math.min(6, Math.floor(height / 50))));
  const yTickLabels = yt.values.map((v) => formatTick(v, yt.step));

  const left = 18 + Math.max(24, ...yTickLabels.map((l) => textWidth(l, fontSize))) + 8;
  const right = 16;
  const top = 14;
  const bottom = 24 + (legendHeight > 0 ? legendHeight + 8 : 0);
  const plot = {
    x: left,
    y: top,
    w: Math.max(10, width - left - right),
    h: Math.max(10, height - top - bottom),
  };

  const xs = all.map((p) => p.x);
  let [x0, x1] = xs.length > 0 ? extent(xs) : [Date.UTC(2000, 0, 1), Date.UTC(2000, 0, 2)];
  // One instant: a day before it, ending there; an axis past the last point would run into the future.
  if (x0 === x1) x0 -= 24 * HOUR;
  const sx = (x: number) => plot.x + ((x - x0) / (x1 - x0)) * plot.w;
  const sy = (y: number) => plot.y + plot.h - ((y - yt.min) / (yt.max - yt.min)) * plot.h;

  const parts: string[] = plotFrame(plot, yt.values, yTickLabels, sy, fontSize);
  if (yLabel) {
    const cx = 12;
    const cy = plot.y + plot.h / 2;
    parts.push(
      el(
        'text',
        {
          x: cx,
          y: cy,
          transform: `rotate(-90 ${n(cx)} ${n(cy)})`,
          'text-anchor': 'middle',
          'font-size': fontSize,
          fill: INK,
        },
        esc(truncate(yLabel, plot.h, fontSize)),
      ),
    );
  }

  // x ticks
  const xt =
    all.length > 0
      ? timeTicks(x0, x1, Math.max(2, Math.min(8, Math.floor(plot.w / 90))))
      : { values: [], format: utcDate };
  const xFormat = o.xFormat ?? xt.format;
  for (const t of xt.values) {
    const x = sx(t);
    const text = String(xFormat(t));
    // a label at either end of the axis is anchored inwards so it stays inside the picture
    const half = textWidth(text, fontSize) / 2;
    const anchor = x - half < 2 ? 'start' : x + half > width - 2 ? 'end' : 'middle';
    parts.push(xTickMark(plot, x));
    parts.push(
      el(
        'text',
        {
          x: anchor === 'start' ? Math.max(2, x - 6) : anchor === 'end' ? Math.min(width - 2, x + 6) : x,
          y: plot.y + plot.h + 16,
          'text-anchor': anchor,
          'font-size': fontSize,
          fill: MUTED,
        },
        esc(text),
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

  // Marker labels first, each in the topmost row free at its x; then threshold labels at the right end,
  // above their line, else below it, else moved left past what they would cover: no two labels overlap.
  const markers = (o.markers ?? [])
    .filter((m) => Number.isFinite(m.x) && all.length > 0 && m.x >= x0 && m.x <= x1)
    .sort((a, b) => a.x - b.x);
  const taken: Box[] = [];
  const markerLabels = markers.map((m, i) => {
    const x = sx(m.x);
    const text = truncate(String(m.label ?? ''), plot.w / 2, 10);
    const w = textWidth(text, 10);
    const fits = x + 4 + w <= plot.x + plot.w;
    const tx = fits ? x + 4 : x - 4;
    const box = (row: number): Box => {
      const y = plot.y + 11 + row * 12;
      return { x0: fits ? tx : tx - w, x1: fits ? tx + w : tx, y0: y - 9, y1: y + 2 };
    };
    const rows = Math.max(1, Math.min(MARKER_ROWS, Math.floor(plot.h / 12)));
    let row = Array.from({ length: rows }, (_, r) => r).find((r) => !collides(box(r), taken));
    row ??= i % rows;
    taken.push(box(row));
    return { x, text, anchor: fits ? 'start' : 'end', tx, y: plot.y + 11 + row * 12 };
  });
  const thresholdLabels = thresholds.map((t) => {
    const y = sy(t.y);
    const text = truncate(`${t.label ? `${t.label} ` : ''}(${formatValue(t.y)})`, plot.w - 8, 10);
    const w = textWidth(text, 10);
    const at = (xr: number, yb: number): Box => ({ x0: xr - w, x1: xr, y0: yb - 9, y1: yb + 2 });
    let xr = plot.x + plot.w - 4;
    let place: { xr: number; yb: number } | undefined;
    while (!place && xr - w >= plot.x) {
      // below the line only while inside the plot, clear of the time labels
      const free = [y - 4, ...(y + 14 <= plot.y + plot.h ? [y + 12] : [])].find(
        (yb) => !collides(at(xr, yb), taken),
      );
      if (free !== undefined) place = { xr, yb: free };
      else xr = Math.min(...taken.filter((b) => overlaps(b, at(xr, y - 4))).map((b) => b.x0)) - 6;
    }
    place ??= { xr: plot.x + plot.w - 4, yb: y - 4 };
    taken.push(at(place.xr, place.yb));
    return { y, text, ...place };
  });

  thresholdLabels.forEach((t) => {
    parts.push(
      el(
        'g',
        { 'data-role': 'threshold' },
        el('line', {
          x1: plot.x,
          y1: t.y,
          x2: plot.x + plot.w,
          y2: t.y,
          stroke: '#9a6700',
          'stroke-width': 1.5,
          'stroke-dasharray': '5 4',
        }) +
          el(
            'text',
            { x: t.xr, y: t.yb, 'text-anchor': 'end', 'font-size': 10, fill: '#7d4e00' },
            esc(t.text),
          ),
      ),
    );
  });

  // markers: a dotted vertical line per event inside the time range, labelled at the top
  markers.forEach((m, i) => {
    const label = String(m.label ?? '');
    const l = markerLabels[i];
    if (!l) return;
    parts.push(
      el(
        'g',
        { 'data-role': 'marker' },
        el('title', {}, esc(`${label} (${utcDate(m.x)})`)) +
          el('line', {
            x1: l.x,
            y1: plot.y,
            x2: l.x,
            y2: plot.y + plot.h,
            stroke: '#6e7781',
            'stroke-width': 1.5,
            'stroke-dasharray': '2 3',
          }) +
          el('text', { x: l.tx, y: l.y, 'text-anchor': l.anchor, 'font-size': 10, fill: INK }, esc(l.text)),
      ),
    );
  });

  // series: a polyline per run, markers at a thinned set of points (every point when few) and at the ends
  for (const s of series) {
    const group: string[] = [];
    const count = s.runs.reduce((k, r) => k + r.length, 0);
    const every = Math.max(1, Math.ceil(count / 12));
    let k = 0;
    for (const r of s.runs) {
      if (r.length > 1) {
        group.push(
          el('polyline', {
            points: r.map((p) => `${n(sx(p.x))},${n(sy(p.y))}`).join(' '),
            fill: 'none',
            stroke: s.color,
            'stroke-width': 2,
            'stroke-dasharray': s.dash,
            'stroke-linejoin': 'round',
          }),
        );
      }
      r.forEach((p, i) => {
        if (k % every === 0 || i === 0 || i === r.length - 1)
          group.push(marker(s.shape, sx(p.x), sy(p.y), 3, s.color));
        k++;
      });
    }
    parts.push(el('g', { 'data-series': s.name }, group.join('')));
  }

  if (all.length === 0) {
    parts.push(noData(plot));
  }

  // legend
  const legendTop = plot.y + plot.h + 32;
  legendRows.slice(0, 4).forEach((row, r) => {
    for (const { index, x } of row) {
      const s = series[index];
      if (!s) continue;
      const lx = 12 + x;
      const ly = legendTop + r * 16;
      const avail = width - lx - 12 - 34;
      parts.push(
        el(
          'g',
          { 'data-role': 'legend' },
          el('line', {
            x1: lx,
            y1: ly,
            x2: lx + 26,
            y2: ly,
            stroke: s.color,
            'stroke-width': 2,
            'stroke-dasharray': s.dash,
          }) +
            marker(s.shape, lx + 13, ly, 3, s.color) +
            el(
              'text',
              { x: lx + 32, y: ly + 4, 'font-size': fontSize, fill: INK },
              esc(truncate(s.name, avail, fontSize)),
            ),
        ),
      );
    }
  });

  const summary = series
    .map((s) => {
      const last = s.runs.at(-1)?.at(-1);
      return last ? `${s.name}: latest ${formatValue(last.y)} on ${utcDate(last.x)}` : `${s.name}: no data`;
    })
    .join('; ');
  const thresholdText = thresholds.map((t) => `${t.label} at ${formatValue(t.y)}`).join(', ');
  const markerText = markers.map((m) => `${m.label} on ${utcDate(m.x)}`).join(', ');
  const desc = [
    summary,
    thresholdText ? `Thresholds: ${thresholdText}` : '',
    markerText ? `Events: ${markerText}` : '',
  ]
    .filter(Boolean)
    .join('. ');
  return svgDocument({ width, height, title, desc, body: parts.join('') });
}
