import {
  dimension,
  el,
  esc,
  formatValue,
  INK,
  MUTED,
  n,
  noData,
  svgDocument,
  textWidth,
  truncate,
} from './svg.js';
import type { HeatmapOptions } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A cell whose value rests on too few values: neutral, with a dash, unlike any level's colour. */
const FEW_FILL = '#f6f8fa';
const FEW_MARK = '#6e7781';

/** Fill of a cell: pale to darker blue below warning, amber up to critical, red from critical on. */
function fill(v: number, warning: number, critical: number): string {
  if (v >= critical) return '#cf222e';
  if (v >= warning) return '#d4a72c';
  const t = warning > 0 ? Math.max(0, Math.min(1, v / warning)) : 0;
  // white (#ffffff) to a light blue (#9ecbff)
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  const hex = (c: number) => c.toString(16).padStart(2, '0');
  return `#${hex(mix(255, 158))}${hex(mix(255, 203))}${hex(mix(255, 255))}`;
}

function pad2(v: number): string {
  return String(v).padStart(2, '0');
}

function columnLabel(ms: number, span: number): string {
  const d = new Date(ms);
  const date = `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  return span >= 4 * DAY ? date : `${date} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

function fullTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * A rows × columns grid of values (features × windows, PSI): each cell coloured by the value's level and,
 * at warning and above, marked with a shape (a dot, a triangle at critical), so the level does not rest on
 * colour alone; a cell without a value is grey and crossed out. Every cell has a <title> with the row, the
 * column's time and the value (a tooltip in browsers, read by screen readers). Row labels may be links.
 * Never throws on odd data.
 */
export function heatmap(o: HeatmapOptions): string {
  const width = dimension(o.width, 800, 160);
  const rowH = dimension(o.rowHeight ?? 16, 16, 6);
  const columns = (o.columns ?? []).filter((c) => Number.isFinite(c));
  const rows = (o.rows ?? []).map((r) => ({
    label: String(r.label ?? ''),
    href: r.href,
    values: columns.map((_, i) => {
      const v = r.values?.[i];
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    }),
    insufficient: columns.map((_, i) => r.insufficient?.[i] === true),
  }));
  const byEnd = o.columnTime === 'end';
  const warning = Number.isFinite(o.levels?.warning) ? o.levels.warning : 0.1;
  const critical = Number.isFinite(o.levels?.critical) ? Math.max(o.levels.critical, warning) : 0.25;
  const valueLabel = String(o.valueLabel ?? 'value');
  const format = o.format ?? formatValue;
  const title = o.title ?? `${valueLabel} per row and window`;
  const fontSize = 11;

  const labelW = Math.min(
    Math.max(60, width * 0.3),
    Math.max(40, ...rows.map((r) => textWidth(r.label, fontSize))) + 12,
  );
  const top = 34;
  const left = labelW;
  const right = 8;
  const plotW = Math.max(10, width - left - right);
  const cellW = columns.length > 0 ? plotW / columns.length : plotW;
  const plotH = Math.max(rowH, rows.length * rowH);
  const legendTop = top + plotH + 14;
  const height = legendTop + 22;

  const parts: string[] = [];
  parts.push(
    el(
      'text',
      { x: 4, y: 14, 'font-size': 13, 'font-weight': 'bold', fill: INK },
      esc(truncate(title, width - 8, 13)),
    ),
  );
  // column labels: every k-th column, so labels do not overlap. A start is the cell's left edge, an end its
  // right edge (the labels then count back from the newest column, whose end is always labelled).
  const span = columns.length > 1 ? (columns.at(-1) as number) - (columns[0] as number) : 0;
  const sample = columnLabel(columns[0] ?? 0, span);
  const sampleW = textWidth(sample, 10);
  const every = Math.max(1, Math.ceil((sampleW + 8) / cellW));
  columns.forEach((c, i) => {
    if ((byEnd ? columns.length - 1 - i : i) % every !== 0) return;
    const x = left + (byEnd ? i + 1 : i) * cellW;
    if (byEnd ? x - sampleW < 0 : x + sampleW > width) return;
    parts.push(
      el('line', { x1: x, y1: top - 4, x2: x, y2: top, stroke: MUTED, 'stroke-width': 1 }) +
        el(
          'text',
          { x, y: top - 7, 'text-anchor': byEnd ? 'end' : undefined, 'font-size': 10, fill: MUTED },
          esc(columnLabel(c, span)),
        ),
    );
  });

  const markR = Math.min(cellW, rowH) * 0.28;
  const showMarks = cellW >= 5 && rowH >= 6;
  rows.forEach((r, ri) => {
    const y = top + ri * rowH;
    const text = el(
      'text',
      {
        x: left - 6,
        y: y + rowH / 2 + fontSize * 0.35,
        'text-anchor': 'end',
        'font-size': fontSize,
        fill: INK,
      },
      esc(truncate(r.label, labelW - 10, fontSize)),
    );
    const label = r.href ? el('a', { href: r.href }, el('title', {}, esc(r.label)) + text) : text;
    const cells: string[] = [];
    r.values.forEach((v, ci) => {
      const x = left + ci * cellW;
      const when = `${byEnd ? 'window ending' : 'window from'} ${fullTime(columns[ci] as number)}`;
      // A value from too few values is shown, but judged neither way: no level, no level colour.
      const few = v !== null && r.insufficient[ci] === true;
      const level = v === null || few ? '' : v >= critical ? ' (critical)' : v >= warning ? ' (warning)' : '';
      const tip = `${r.label}, ${when}: ${v === null ? `no ${valueLabel}` : `${valueLabel} ${format(v)}`}${
        few ? ' (too few values for a verdict)' : level
      }`;
      let mark = '';
      if (few) {
        mark = el('path', {
          d: `M${n(x + cellW * 0.3)} ${n(y + rowH / 2)}H${n(x + cellW * 0.7)}`,
          stroke: FEW_MARK,
          'stroke-width': 1.5,
        });
      } else if (v === null) {
        mark = el('path', {
          d: `M${n(x + 1)} ${n(y + rowH - 1)}L${n(x + cellW - 1)} ${n(y + 1)}`,
          stroke: '#afb8c1',
          'stroke-width': 1,
        });
      } else if (showMarks && v >= critical) {
        const cx = x + cellW / 2;
        const cy = y + rowH / 2;
        mark = el('path', {
          d: `M${n(cx)} ${n(cy - markR * 1.2)}L${n(cx + markR * 1.1)} ${n(cy + markR * 0.8)}L${n(cx - markR * 1.1)} ${n(cy + markR * 0.8)}Z`,
          fill: '#ffffff',
        });
      } else if (showMarks && v >= warning) {
        mark = el('circle', { cx: x + cellW / 2, cy: y + rowH / 2, r: markR * 0.8, fill: INK });
      }
      cells.push(
        el(
          'g',
          { 'data-cell': v === null ? '' : String(v), 'data-insufficient': few ? 'true' : undefined },
          el('title', {}, esc(tip)) +
            el('rect', {
              x,
              y,
              width: cellW,
              height: rowH,
              fill: v === null ? '#eaeef2' : few ? FEW_FILL : fill(v, warning, critical),
              stroke: '#ffffff',
              'stroke-width': cellW >= 4 ? 0.5 : 0,
            }) +
            mark,
        ),
      );
    });
    parts.push(el('g', { 'data-row-label': r.label }, label + cells.join('')));
  });
  if (rows.length === 0 || columns.length === 0) {
    parts.push(noData({ x: left, y: top, w: plotW, h: plotH }, 12, 4));
  }

  // legend: each level's swatch with its mark and range
  const legend = [
    { text: `< ${format(warning)}`, fillColor: fill(warning / 2, warning, critical), mark: '' },
    { text: `≥ ${format(warning)} warning`, fillColor: fill(warning, warning, critical), mark: 'dot' },
    { text: `≥ ${format(critical)} critical`, fillColor: fill(critical, warning, critical), mark: 'tri' },
    { text: 'no value', fillColor: '#eaeef2', mark: 'none' },
    // only where some cell has too few values, so charts without any keep their legend
    ...(rows.some((r) => r.values.some((v, i) => v !== null && r.insufficient[i]))
      ? [{ text: 'insufficient data (too few values)', fillColor: FEW_FILL, mark: 'few' }]
      : []),
  ];
  let lx = 4;
  for (const entry of legend) {
    const sw = 12;
    const cx = lx + sw / 2;
    const cy = legendTop + sw / 2;
    const mark =
      entry.mark === 'dot'
        ? el('circle', { cx, cy, r: 2.5, fill: INK })
        : entry.mark === 'tri'
          ? el('path', {
              d: `M${n(cx)} ${n(cy - 3.5)}L${n(cx + 3.3)} ${n(cy + 2.5)}L${n(cx - 3.3)} ${n(cy + 2.5)}Z`,
              fill: '#ffffff',
            })
          : entry.mark === 'few'
            ? el('path', {
                d: `M${n(lx + 3.5)} ${n(cy)}H${n(lx + sw - 3.5)}`,
                stroke: FEW_MARK,
                'stroke-width': 1.5,
              })
            : entry.mark === 'none'
              ? el('path', {
                  d: `M${n(lx + 1)} ${n(legendTop + sw - 1)}L${n(lx + sw - 1)} ${n(legendTop + 1)}`,
                  stroke: '#afb8c1',
                  'stroke-width': 1,
                })
              : '';
    parts.push(
      el(
        'g',
        { 'data-role': 'legend' },
        el('rect', {
          x: lx,
          y: legendTop,
          width: sw,
          height: sw,
          fill: entry.fillColor,
          stroke: MUTED,
          'stroke-width': 0.5,
        }) +
          mark +
          el(
            'text',
            { x: lx + sw + 4, y: legendTop + 10, 'font-size': 10, fill: INK },
            esc(entry.mark === 'few' ? entry.text : `${valueLabel} ${entry.text}`),
          ),
      ),
    );
    lx += sw + 12 + textWidth(entry.mark === 'few' ? entry.text : `${valueLabel} ${entry.text}`, 10);
  }

  const worst = rows
    .map((r) => ({
      label: r.label,
      max: Math.max(
        ...r.values.filter((v, i): v is number => v !== null && !r.insufficient[i]),
        Number.NEGATIVE_INFINITY,
      ),
    }))
    .filter((r) => Number.isFinite(r.max))
    .sort((a, b) => b.max - a.max)
    .slice(0, 5);
  const desc =
    `${rows.length} rows × ${columns.length} windows` +
    (columns.length > 0
      ? ` from ${fullTime(columns[0] as number)} to ${fullTime(columns.at(-1) as number)}`
      : '') +
    (worst.length > 0
      ? `. Highest ${valueLabel}: ${worst.map((w) => `${w.label} ${format(w.max)}`).join(', ')}`
      : '');
  return svgDocument({ width, height, title, desc, body: parts.join('') });
}
