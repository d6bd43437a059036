// Building blocks of the charts: escaping, number formatting, nice ticks and UTC time ticks. Pure: no I/O,
// no DOM, nothing of the rest of driftwatch, so the email reports and the web UI draw the same pictures.

/** `text` without the code units XML 1.0 forbids: control characters, lone surrogates, U+FFFE and U+FFFF. */
function xmlChars(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += text[i] + (text[i + 1] ?? '');
        i++;
      }
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) continue;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) continue;
    if (c === 0xfffe || c === 0xffff) continue;
    out += text[i];
  }
  return out;
}

/** Text or an attribute value made safe for XML: `& < > " '` escaped, forbidden characters dropped. */
export function esc(text: string): string {
  return xmlChars(String(text))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate: at most two decimals, never "-0". */
export function n(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Attributes from an object; undefined values are left out, every value is escaped. */
export function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? n(v) : esc(v)}"`)
    .join('');
}

export function el(name: string, a: Record<string, string | number | undefined>, children?: string): string {
  return children === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${children}</${name}>`;
}

export const FONT = "Helvetica, Arial, 'DejaVu Sans', 'Liberation Sans', sans-serif";
export const INK = '#1f2328';
export const MUTED = '#59636e';
export const GRID = '#d8dee4';

/**
 * Series styles: colour, dash pattern and marker shape all differ, so series stay apart in grey print,
 * for colour-blind readers, and in the legend.
 */
export const PALETTE = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#0a7b83'];
export const DASHES = [undefined, '6 3', '2 3', '8 3 2 3', '4 4', '1 2'];
export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'x'] as const;
export type Marker = (typeof MARKERS)[number];

export function marker(shape: Marker, x: number, y: number, r: number, color: string): string {
  switch (shape) {
    case 'circle':
      return el('circle', { cx: x, cy: y, r, fill: color });
    case 'square':
      return el('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill: color });
    case 'triangle':
      return el('path', {
        d: `M${n(x)} ${n(y - r * 1.2)}L${n(x + r * 1.1)} ${n(y + r * 0.8)}L${n(x - r * 1.1)} ${n(y + r * 0.8)}Z`,
        fill: color,
      });
    case 'diamond':
      return el('path', {
        d: `M${n(x)} ${n(y - r * 1.3)}L${n(x + r * 1.3)} ${n(y)}L${n(x)} ${n(y + r * 1.3)}L${n(x - r * 1.3)} ${n(y)}Z`,
        fill: color,
      });
    case 'cross':
      return el('path', {
        d: `M${n(x - r)} ${n(y)}H${n(x + r)}M${n(x)} ${n(y - r)}V${n(y + r)}`,
        stroke: color,
        'stroke-width': 2,
      });
    case 'x':
      return el('path', {
        d: `M${n(x - r)} ${n(y - r)}L${n(x + r)} ${n(y + r)}M${n(x - r)} ${n(y + r)}L${n(x + r)} ${n(y - r)}`,
        stroke: color,
        'stroke-width': 2,
      });
  }
}

/** An empty chart's "No data", centred on the plot area (`dy` moves it down, e.g. to the text's middle). */
export function noData(plot: { x: number; y: number; w: number; h: number }, fontSize = 13, dy = 0): string {
  return el(
    'text',
    {
      x: plot.x + plot.w / 2,
      y: plot.y + plot.h / 2 + dy,
      'text-anchor': 'middle',
      'font-size': fontSize,
      fill: MUTED,
    },
    'No data',
  );
}

/**
 * The plot area's white background, then a horizontal grid line per y tick with its label at the left:
 * `ticks` in data units, `sy` maps them to pixels.
 */
export function plotFrame(
  plot: { x: number; y: number; w: number; h: number },
  ticks: readonly number[],
  labels: readonly string[],
  sy: (v: number) => number,
  fontSize: number,
): string[] {
  const parts = [
    el('rect', { x: plot.x, y: plot.y, width: plot.w, height: plot.h, fill: '#ffffff', 'data-role': 'plot' }),
  ];
  ticks.forEach((v, i) => {
    const y = sy(v);
    parts.push(
      el('line', { x1: plot.x, y1: y, x2: plot.x + plot.w, y2: y, stroke: GRID, 'stroke-width': 1 }),
    );
    parts.push(
      el(
        'text',
        { x: plot.x - 6, y: y + 4, 'text-anchor': 'end', 'font-size': fontSize, fill: MUTED },
        esc(labels[i] ?? ''),
      ),
    );
  });
  return parts;
}

/** The short tick mark under the plot's bottom edge at `x`. */
export function xTickMark(plot: { y: number; h: number }, x: number): string {
  return el('line', {
    x1: x,
    y1: plot.y + plot.h,
    x2: x,
    y2: plot.y + plot.h + 4,
    stroke: MUTED,
    'stroke-width': 1,
  });
}

/** The outer element: a viewBox, role="img", an aria-label, a <title> and an optional <desc>. */
export function svgDocument(o: {
  width: number;
  height: number;
  title: string;
  desc?: string;
  body: string;
}): string {
  const title = el('title', {}, esc(o.title));
  const desc = o.desc ? el('desc', {}, esc(o.desc)) : '';
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width: o.width,
      height: o.height,
      viewBox: `0 0 ${n(o.width)} ${n(o.height)}`,
      role: 'img',
      'aria-label': o.title,
      'font-family': FONT,
    },
    title + desc + el('rect', { x: 0, y: 0, width: o.width, height: o.height, fill: '#ffffff' }) + o.body,
  );
}

/** [min, max] of finite numbers without spreading them (no stack limit on long series). */
export function extent(values: number[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** A width or height that can be drawn: finite, at least `min`. */
export function dimension(v: number, fallback: number, min = 1): number {
  return Number.isFinite(v) && v >= min ? v : Math.max(min, fallback);
}

/** Rough width of a text in px (about 0.6 em a character): enough to lay out labels and truncate them. */
export function textWidth(text: string, fontSize: number): number {
  return [...text].length * fontSize * 0.6;
}

/** `text` cut to fit `maxWidth` px, with an ellipsis when cut. */
export function truncate(text: string, maxWidth: number, fontSize: number): string {
  const chars = [...text];
  const max = Math.floor(maxWidth / (fontSize * 0.6));
  if (chars.length <= max) return text;
  if (max <= 1) return max === 1 ? '…' : '';
  return `${chars.slice(0, max - 1).join('')}…`;
}

export interface Ticks {
  min: number;
  max: number;
  step: number;
  values: number[];
}

function niceNumber(range: number, round: boolean): number {
  const exponent = Math.floor(Math.log10(range));
  const fraction = range / 10 ** exponent;
  let nice: number;
  if (round) nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  else nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * 10 ** exponent;
}

/**
 * About `count` ticks at 1, 2 or 5 × 10^k covering [lo, hi]. An empty or one-value range is widened
 * so there is always something to draw: [0, 1] around nothing, ±10 % (or ±1 at zero) around one value.
 */
export function niceTicks(lo: number, hi: number, count = 5): Ticks {
  let a = Number.isFinite(lo) ? lo : 0;
  let b = Number.isFinite(hi) ? hi : 1;
  if (a > b) [a, b] = [b, a];
  if (a === b) {
    const pad = a === 0 ? 1 : Math.abs(a) * 0.1;
    a -= pad;
    b += pad;
    if (lo >= 0 && a < 0) a = 0;
  }
  const step = niceNumber(niceNumber(b - a, false) / Math.max(1, count - 1), true);
  const min = Math.floor(a / step) * step;
  const max = Math.ceil(b / step) * step;
  const values: number[] = [];
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let i = 0; min + i * step <= max + step * 1e-9; i++) {
    values.push(Number((min + i * step).toFixed(decimals)));
  }
  return { min: Number(min.toFixed(decimals)), max: Number(max.toFixed(decimals)), step, values };
}

/** A tick value in the fewest decimals its step needs (0.05 → "0.05", 1500 → "1.5k"). */
export function formatTick(v: number, step: number): string {
  const abs = Math.abs(v);
  if (abs >= 1e6 && step >= 1e5) return `${trim((v / 1e6).toFixed(Math.max(0, 6 - digits(step))))}M`;
  if (abs >= 1e4 && step >= 1e2) return `${trim((v / 1e3).toFixed(Math.max(0, 3 - digits(step))))}k`;
  const decimals = Math.min(10, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return trim(v.toFixed(decimals));
}

function digits(step: number): number {
  return Math.floor(Math.log10(step) + 1e-9);
}

function trim(s: string): string {
  const t = s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  return t === '-0' ? '0' : t;
}

/** A value for a label: up to 3 significant digits, k/M for large ones. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${trim((v / 1e6).toPrecision(3))}M`;
  if (abs >= 1e4) return `${trim((v / 1e3).toPrecision(3))}k`;
  if (abs >= 100) return String(Math.round(v));
  if (abs === 0) return '0';
  return trim(v.toPrecision(3));
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
];
const MONTH_STEPS = [1, 3, 6, 12, 24, 60, 120];

export interface TimeTicks {
  values: number[];
  /** Formats a tick for this step: dates for day steps and longer, date and time below. */
  format: (ms: number) => string;
}

function pad2(v: number): string {
  return String(v).padStart(2, '0');
}

export function utcDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

function utcDateTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

/** At most about `count` UTC-aligned ticks inside [lo, hi] (ms since the epoch). */
export function timeTicks(lo: number, hi: number, count = 5): TimeTicks {
  const range = Math.max(1, hi - lo);
  const step = TIME_STEPS.find((s) => range / s <= count);
  if (step !== undefined) {
    const values: number[] = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) values.push(t);
    return { values, format: step >= DAY ? utcDate : utcDateTime };
  }
  const months = MONTH_STEPS.find((m) => range / (m * 30.44 * DAY) <= count) ?? 120;
  const values: number[] = [];
  const start = new Date(lo);
  let y = start.getUTCFullYear();
  let m = Math.ceil(start.getUTCMonth() / months) * months;
  for (;;) {
    const t = Date.UTC(y, m, 1);
    if (t > hi) break;
    if (t >= lo) values.push(t);
    m += months;
    if (m >= 12) {
      y += Math.floor(m / 12);
      m %= 12;
    }
  }
  return {
    values,
    format: months >= 12 ? (ms) => String(new Date(ms).getUTCFullYear()) : (ms) => utcDate(ms).slice(0, 7),
  };
}
