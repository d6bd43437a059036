import {
  dimension,
  el,
  esc,
  extent,
  INK,
  MUTED,
  niceTicks,
  noData,
  plotFrame,
  svgDocument,
  textWidth,
  truncate,
} from './svg.js';
import type { HistogramOverlayOptions } from './types.js';

const BASELINE = { fill: '#d0d7de', stroke: '#424a53' };
const CURRENT = { fill: '#0969da', stroke: '#0550ae' };

function percent(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step * 100) + 1e-9));
  return `${(v * 100).toFixed(decimals)}%`;
}

/**
 * Baseline against current share per bin or category: two bars side by side in each bin, the baseline
 * pale with a dashed outline, the current solid, named in a legend, so they differ by more than colour.
 * Each bin's full label and both values are in a <title> on its group (a tooltip in browsers). Non-finite
 * values draw no bar.
 */
export function histogramOverlay(o: HistogramOverlayOptions): string {
  const width = dimension(o.width, 480, 120);
  const height = dimension(o.height, 240, 100);
  const title = String(o.title ?? '');
  const bins = (o.bins ?? []).map((b) => ({
    label: String(b.label ?? ''),
    baseline: Number.isFinite(b.baseline) ? b.baseline : undefined,
    current: Number.isFinite(b.current) ? b.current : undefined,
  }));
  const names = o.names ?? { baseline: 'Baseline', current: 'Current' };
  const values = bins.flatMap((b) => [b.baseline, b.current]).filter((v): v is number => v !== undefined);
  const [dataLo, dataHi] = values.length > 0 ? extent(values) : [0, 1];
  const yt = niceTicks(
    Math.min(0, dataLo),
    Math.max(0, dataHi),
    Math.max(2, Math.min(6, Math.floor(height / 45))),
  );
  const yFormat = o.yFormat ?? ((v: number) => percent(v, yt.step));
  const tickLabels = yt.values.map((v) => String(yFormat(v)));
  const fontSize = 11;

  const left = 8 + Math.max(20, ...tickLabels.map((l) => textWidth(l, fontSize))) + 8;
  const top = 36;
  const right = 12;
  const plotW = Math.max(10, width - left - right);
  const slot = bins.length > 0 ? plotW / bins.length : plotW;
  // Bin labels: all on one line when they fit their slot; else on two staggered lines when they fit two
  // slots; else every k-th one, cut to at least 6 characters (each bin's <title> has its full label).
  const longest = Math.max(0, ...bins.map((b) => textWidth(b.label, fontSize)));
  const staggered = longest + 4 > slot && longest + 4 <= 2 * slot;
  const labelEvery = staggered
    ? 1
    : Math.max(1, Math.ceil((Math.min(longest, textWidth('abcdef', fontSize)) + 4) / slot));
  const labelWidth = staggered ? 2 * slot - 4 : slot * labelEvery - 4;
  const bottom = staggered ? 36 : 24;
  const plot = { x: left, y: top, w: plotW, h: Math.max(10, height - top - bottom) };
  const sy = (v: number) => plot.y + plot.h - ((v - yt.min) / (yt.max - yt.min)) * plot.h;

  const parts: string[] = plotFrame(plot, yt.values, tickLabels, sy, fontSize);

  // Legend at the top right: a swatch of each bar style and its name.
  const legend = [
    { name: names.baseline, style: BASELINE, dash: '3 2' },
    { name: names.current, style: CURRENT, dash: undefined },
  ];
  let lx = width - right;
  for (const entry of [...legend].reverse()) {
    const w = 16 + textWidth(entry.name, fontSize);
    lx -= w;
    parts.push(
      el(
        'g',
        { 'data-role': 'legend' },
        el('rect', {
          x: lx,
          y: 9,
          width: 11,
          height: 11,
          fill: entry.style.fill,
          stroke: entry.style.stroke,
          'stroke-width': 1,
          'stroke-dasharray': entry.dash,
        }) + el('text', { x: lx + 15, y: 19, 'font-size': fontSize, fill: INK }, esc(entry.name)),
      ),
    );
    lx -= 12;
  }

  const zero = sy(Math.max(yt.min, Math.min(yt.max, 0)));
  const barW = Math.max(1, Math.min(40, (slot * 0.8) / 2));
  bins.forEach((b, i) => {
    const cx = plot.x + slot * i + slot / 2;
    const bar = (
      v: number | undefined,
      x: number,
      style: { fill: string; stroke: string },
      dash?: string,
    ) => {
      if (v === undefined) return '';
      const y = sy(v);
      return el('rect', {
        x,
        y: Math.min(y, zero),
        width: barW,
        height: Math.abs(zero - y),
        fill: style.fill,
        stroke: style.stroke,
        'stroke-width': 1,
        'stroke-dasharray': dash,
      });
    };
    const tip = `${b.label}: ${names.baseline.toLowerCase()} ${b.baseline === undefined ? 'n/a' : yFormat(b.baseline)}, ${names.current.toLowerCase()} ${b.current === undefined ? 'n/a' : yFormat(b.current)}`;
    parts.push(
      el(
        'g',
        { 'data-bin': b.label },
        el('title', {}, esc(tip)) +
          bar(b.baseline, cx - barW, BASELINE, '3 2') +
          bar(b.current, cx, CURRENT) +
          (i % labelEvery === 0
            ? el(
                'text',
                {
                  x: cx,
                  y: plot.y + plot.h + 15 + (staggered ? (i % 2) * 12 : 0),
                  'text-anchor': 'middle',
                  'font-size': fontSize,
                  fill: MUTED,
                },
                esc(truncate(b.label, labelWidth, fontSize)),
              )
            : ''),
      ),
    );
  });
  parts.push(
    el('line', { x1: plot.x, y1: zero, x2: plot.x + plot.w, y2: zero, stroke: MUTED, 'stroke-width': 1 }),
  );
  if (bins.length === 0) {
    parts.push(noData(plot));
  }
  parts.push(
    el(
      'text',
      { x: 8, y: 19, 'font-size': 13, 'font-weight': 'bold', fill: INK },
      esc(truncate(title, Math.max(0, lx - 8), 13)),
    ),
  );
  const desc = bins
    .map(
      (b) =>
        `${b.label}: ${b.baseline === undefined ? 'n/a' : yFormat(b.baseline)} baseline, ${b.current === undefined ? 'n/a' : yFormat(b.current)} current`,
    )
    .join('; ');
  return svgDocument({
    width,
    height,
    title: title || 'Baseline and current distribution',
    desc,
    body: parts.join(''),
  });
}
