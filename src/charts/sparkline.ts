import {
  dimension,
  el,
  esc,
  extent,
  formatValue,
  INK,
  MUTED,
  n,
  svgDocument,
  textWidth,
  truncate,
} from './svg.js';
import type { SparklineOptions, SparklinePanelOptions } from './types.js';

/**
 * A small line of `values` (evenly spaced, oldest first) for traffic, latency or error rate, with a dot
 * on the latest value and, when there is room, that value written at the right. The y range is the
 * values' own min…max (a flat line sits in the middle); non-finite values leave gaps.
 */
export function sparkline(o: SparklineOptions): string {
  const width = dimension(o.width, 120, 16);
  const height = dimension(o.height, 24, 8);
  const label = String(o.label ?? '');
  const values = o.values ?? [];
  const format = o.format ?? formatValue;
  const finite = values.filter((v) => Number.isFinite(v));
  const lastIndex = values.findLastIndex((v) => Number.isFinite(v));
  const last = lastIndex >= 0 ? values[lastIndex] : undefined;
  const lastText = last === undefined ? 'n/a' : String(format(last));

  const fontSize = Math.max(8, Math.min(12, height * 0.5));
  const textW = textWidth(lastText, fontSize);
  const showText = width - textW - 6 >= 40;
  const pad = 3;
  const plot = {
    x: pad,
    y: pad,
    w: Math.max(1, width - 2 * pad - (showText ? textW + 6 : 0)),
    h: Math.max(1, height - 2 * pad),
  };
  const [lo, hi] = finite.length > 0 ? extent(finite) : [0, 1];
  const sx = (i: number) => plot.x + (values.length > 1 ? (i / (values.length - 1)) * plot.w : plot.w / 2);
  const sy = (v: number) =>
    hi === lo ? plot.y + plot.h / 2 : plot.y + plot.h - ((v - lo) / (hi - lo)) * plot.h;

  const parts: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length > 1) {
      parts.push(
        el('polyline', {
          points: run.join(' '),
          fill: 'none',
          stroke: '#0969da',
          'stroke-width': 1.5,
          'stroke-linejoin': 'round',
        }),
      );
    }
    run = [];
  };
  values.forEach((v, i) => {
    if (Number.isFinite(v)) run.push(`${n(sx(i))},${n(sy(v))}`);
    else flush();
  });
  flush();
  if (last !== undefined) {
    parts.push(el('circle', { cx: sx(lastIndex), cy: sy(last), r: 2.5, fill: INK, 'data-role': 'last' }));
  } else {
    parts.push(
      el('line', {
        x1: plot.x,
        y1: plot.y + plot.h / 2,
        x2: plot.x + plot.w,
        y2: plot.y + plot.h / 2,
        stroke: MUTED,
        'stroke-width': 1,
        'stroke-dasharray': '2 3',
      }),
    );
  }
  if (showText) {
    parts.push(
      el(
        'text',
        {
          x: width - pad,
          y: height / 2 + fontSize * 0.35,
          'text-anchor': 'end',
          'font-size': fontSize,
          fill: INK,
        },
        esc(lastText),
      ),
    );
  }
  const range = finite.length > 0 ? `, range ${format(lo)} to ${format(hi)}` : '';
  const title = `${label}: ${last === undefined ? 'no data' : `latest ${lastText}${range}`}`;
  return svgDocument({ width, height, title, body: parts.join('') });
}

/**
 * Sparklines stacked in one picture, each with its label on the left (e.g. a model's traffic, p95 latency
 * and error rate), for places that take one image per chart (email). Each row is a nested `sparkline`;
 * the <title> and <desc> list every row's latest value and range.
 */
export function sparklinePanel(o: SparklinePanelOptions): string {
  const width = dimension(o.width, 480, 120);
  const rows = o.rows ?? [];
  const rowHeight = dimension(o.rowHeight ?? 28, 28, 12);
  const title = String(o.title ?? '');
  const fontSize = 11;
  const top = title ? 22 : 4;
  const labels = rows.map((r) => String(r.label ?? ''));
  const labelWidth = Math.min(width * 0.4, Math.max(40, ...labels.map((l) => textWidth(l, fontSize))) + 12);
  const height = top + rows.length * rowHeight + 4;
  const parts: string[] = [];
  if (title)
    parts.push(
      el(
        'text',
        { x: 8, y: 15, 'font-size': 13, 'font-weight': 'bold', fill: INK },
        esc(truncate(title, width - 16, 13)),
      ),
    );
  const descs: string[] = [];
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    const inner = sparkline({
      width: width - labelWidth - 8,
      height: rowHeight - 4,
      values: r.values,
      label: labels[i] ?? '',
      ...(r.format ? { format: r.format } : {}),
    });
    // The nested document keeps its own <title>; positioned by x/y on the outer <svg>.
    const positioned = inner.replace(/^<svg /, `<svg x="${n(labelWidth)}" y="${n(y + 2)}" `);
    parts.push(
      el(
        'g',
        { 'data-row': labels[i] ?? '' },
        el(
          'text',
          { x: 8, y: y + rowHeight / 2 + 4, 'font-size': fontSize, fill: MUTED },
          esc(truncate(labels[i] ?? '', labelWidth - 12, fontSize)),
        ) + positioned,
      ),
    );
    const m = /<title>([^<]*)<\/title>/.exec(inner);
    if (m?.[1]) descs.push(m[1]);
  });
  if (rows.length === 0)
    parts.push(
      el(
        'text',
        { x: width / 2, y: top + 14, 'text-anchor': 'middle', 'font-size': 13, fill: MUTED },
        'No data',
      ),
    );
  return svgDocument({
    width,
    height,
    title: title || 'Sparklines',
    // The rows' titles are escaped already; svgDocument escapes again, so undo the first.
    desc: descs.map(unescapeXml).join('; '),
    body: parts.join(''),
  });
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
