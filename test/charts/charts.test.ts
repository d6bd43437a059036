import { describe, expect, it } from 'vitest';
import {
  histogramOverlay,
  lineChart,
  niceTicks,
  sparkline,
  sparklinePanel,
  timeTicks,
} from '../../src/charts/index.js';
import { toPng } from '../../src/charts/png.js';

// Pure: the charts are functions from data to SVG strings; toPng runs resvg in-process.

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);
const NASTY = 'a<b & "c" \'d\' >e\u0001';

/**
 * A small well-formedness check: tags nest and close, attribute values are quoted, text and attribute
 * values hold no raw `<` and only known entities. Returns the elements met, each with its attributes.
 */
function parseXml(xml: string): { name: string; attrs: Record<string, string>; text: string }[] {
  const elements: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const stack: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const entity = /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (entity.test(text)) throw new Error(`bad entity in text near ${i}: ${text}`);
    if (text.includes('>')) throw new Error(`raw > in text near ${i}`);
    const top = stack.at(-1);
    if (top) top.text += text;
    else if (text.trim() !== '') throw new Error('text outside the root element');
    if (lt === -1) break;
    const gt = xml.indexOf('>', lt);
    if (gt === -1) throw new Error('unclosed tag');
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (open?.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${open?.name}>`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*$/.exec(body);
      if (!m) throw new Error(`malformed tag <${tag}>`);
      const attrs: Record<string, string> = {};
      for (const a of (m[2] ?? '').matchAll(/([\w:.-]+)="([^"]*)"/g)) {
        const [, k = '', v = ''] = a;
        if (k in attrs) throw new Error(`duplicate attribute ${k}`);
        if (entity.test(v)) throw new Error(`bad entity in ${k}="${v}"`);
        attrs[k] = v;
      }
      const element = { name: m[1] ?? '', attrs, text: '' };
      if (stack.length === 0 && elements.length > 0) throw new Error('two root elements');
      elements.push(element);
      if (!selfClosing) stack.push(element);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)?.name}> not closed`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none got through
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(xml)) throw new Error('control character');
  return elements;
}

/** Well-formed by the tiny parser and accepted by resvg (whose XML parser is strict). */
function check(svg: string) {
  const elements = parseXml(svg);
  expect(() => toPng(svg)).not.toThrow();
  const root = elements[0];
  expect(root?.name).toBe('svg');
  expect(root?.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
  expect(root?.attrs.viewBox).toMatch(/^0 0 [\d.]+ [\d.]+$/);
  expect(root?.attrs.role).toBe('img');
  expect(root?.attrs['aria-label']).toBeTruthy();
  expect(elements[1]?.name).toBe('title');
  expect(elements[1]?.text).toBeTruthy();
  expect(svg).not.toMatch(/class=|<script|<style|NaN|Infinity|undefined/);
  return elements;
}

function plotArea(elements: ReturnType<typeof parseXml>) {
  const rect = elements.find((e) => e.attrs['data-role'] === 'plot');
  if (!rect) throw new Error('no plot rect');
  const x = Number(rect.attrs.x);
  const y = Number(rect.attrs.y);
  return { x, y, w: Number(rect.attrs.width), h: Number(rect.attrs.height) };
}

function polylinePoints(e: { attrs: Record<string, string> }): [number, number][] {
  return (e.attrs.points ?? '').split(' ').map((p) => p.split(',').map(Number) as [number, number]);
}

const days = (ys: number[]) => ys.map((y, i) => ({ x: T0 + i * DAY, y }));

describe('lineChart', () => {
  const psi = () =>
    lineChart({
      width: 640,
      height: 320,
      yLabel: 'PSI',
      series: [
        { name: 'age', points: days([0, 0.5, 1]) },
        { name: NASTY, points: days([0.2, 0.3, 0.1]), dashed: true },
      ],
      thresholds: [
        { y: 0.1, label: 'moderate' },
        { y: 0.25, label: 'major <&>' },
      ],
    });

  it('is well-formed, titled, and escapes labels', () => {
    const svg = psi();
    const elements = check(svg);
    expect(elements[1]?.text).toBe('PSI over time');
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;e');
    expect(svg).not.toContain(NASTY.slice(0, 6));
    expect(svg).toContain('major &lt;&amp;&gt; (0.25)');
    // the legend names each series next to its line sample
    const legend = elements.filter((e) => e.name === 'text' && e.text.includes('age'));
    expect(legend.length).toBeGreaterThan(0);
  });

  it('maps the max y to the top of the plot area and the time range to its width', () => {
    const elements = check(psi());
    const plot = plotArea(elements);
    const age = elements.findIndex((e) => e.attrs['data-series'] === 'age');
    const line = elements.slice(age).find((e) => e.name === 'polyline');
    if (!line) throw new Error('no polyline');
    const pts = polylinePoints(line);
    expect(pts).toHaveLength(3);
    expect(pts[0]).toEqual([plot.x, plot.y + plot.h]); // (first day, 0): bottom left
    expect(pts[1]?.[0]).toBeCloseTo(plot.x + plot.w / 2, 1);
    expect(pts[1]?.[1]).toBeCloseTo(plot.y + plot.h / 2, 1);
    expect(pts[2]?.[0]).toBeCloseTo(plot.x + plot.w, 1); // (last day, 1 = max tick): top right
    expect(pts[2]?.[1]).toBeCloseTo(plot.y, 1);
  });

  it('distinguishes series by dash pattern and marker shape, not only colour', () => {
    const elements = check(psi());
    const lines = elements.filter((e) => e.name === 'polyline');
    expect(lines[0]?.attrs['stroke-dasharray']).toBeUndefined();
    expect(lines[1]?.attrs['stroke-dasharray']).toBeTruthy();
    const thresholds = elements.filter((e) => e.name === 'line' && e.attrs['stroke-dasharray'] === '5 4');
    expect(thresholds).toHaveLength(2);
  });

  it('labels the time axis with UTC dates', () => {
    const svg = lineChart({
      width: 640,
      height: 300,
      yLabel: 'PSI',
      series: [{ name: 'f', points: days([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]) }],
    });
    check(svg);
    expect(svg).toContain('>2026-11-');
    const custom = lineChart({
      width: 640,
      height: 300,
      yLabel: 'PSI',
      xFormat: () => 'T<',
      series: [{ name: 'f', points: days([1, 2, 3]) }],
    });
    expect(check(custom).some((e) => e.name === 'text' && e.text === 'T&lt;')).toBe(true);
  });

  it('skips NaN points, breaking the line there', () => {
    const elements = check(
      lineChart({
        width: 400,
        height: 200,
        yLabel: 'PSI',
        series: [{ name: 'f', points: [...days([0.1, 0.2, Number.NaN, 0.3, 0.4]), { x: Number.NaN, y: 1 }] }],
      }),
    );
    const lines = elements.filter((e) => e.name === 'polyline');
    expect(lines.map((l) => polylinePoints(l).length)).toEqual([2, 2]);
  });

  it('draws empty, single-point, all-equal and odd input without throwing', () => {
    const cases = [
      { series: [] },
      { series: [{ name: 'empty', points: [] }] },
      { series: [{ name: 'nan', points: days([Number.NaN, Number.NaN]) }] },
      { series: [{ name: 'one', points: days([0.2]) }] },
      { series: [{ name: 'flat', points: days([0.3, 0.3, 0.3]) }] },
      { series: [{ name: 'zeros', points: days([0, 0, 0]) }] },
      { series: [{ name: 'neg', points: days([-5, -2, Number.POSITIVE_INFINITY]) }] },
      {
        series: [
          {
            name: 'same time',
            points: [
              { x: T0, y: 1 },
              { x: T0, y: 2 },
            ],
          },
        ],
      },
      { series: [{ name: 'f', points: days([1]) }], width: 0, height: Number.NaN },
      {
        series: Array.from({ length: 12 }, (_, i) => ({
          name: `feature_${i}_with_a_long_name`,
          points: days([i, i + 1]),
        })),
      },
    ];
    for (const c of cases) {
      const svg = lineChart({
        width: 480,
        height: 240,
        yLabel: '',
        thresholds: [{ y: Number.NaN, label: 'x' }],
        ...c,
      });
      check(svg);
    }
    expect(lineChart({ width: 480, height: 240, yLabel: 'PSI', series: [] })).toContain('No data');
    // a single point still shows, as a marker
    const one = check(
      lineChart({ width: 480, height: 240, yLabel: 'PSI', series: [{ name: 'one', points: days([0.2]) }] }),
    );
    expect(one.some((e) => e.name === 'circle')).toBe(true);
  });
});

describe('sparkline', () => {
  it('maps max to the top and min to the bottom, marks the latest value', () => {
    const svg = sparkline({ width: 120, height: 30, values: [5, 10, 0, 7], label: 'p95 latency <ms>' });
    const elements = check(svg);
    expect(elements[1]?.text).toBe('p95 latency &lt;ms&gt;: latest 7, range 0 to 10');
    const line = elements.find((e) => e.name === 'polyline');
    if (!line) throw new Error('no polyline');
    const pts = polylinePoints(line);
    expect(pts[1]?.[1]).toBe(3); // 10: the top, inside the 3 px padding
    expect(pts[2]?.[1]).toBe(27); // 0: the bottom
    expect(elements.some((e) => e.name === 'text' && e.text === '7')).toBe(true);
  });

  it('handles empty, single, all-equal and NaN values', () => {
    for (const values of [[], [3], [2, 2, 2], [Number.NaN, 1, Number.NaN, 2], [Number.NaN]]) {
      check(sparkline({ width: 100, height: 20, values, label: 'errors' }));
    }
    const flat = check(sparkline({ width: 100, height: 20, values: [2, 2, 2], label: 'x' }));
    const pts = polylinePoints(flat.find((e) => e.name === 'polyline') ?? { attrs: {} });
    expect(new Set(pts.map((p) => p[1])).size).toBe(1); // flat, in the middle
    expect(check(sparkline({ width: 100, height: 20, values: [], label: 'x' }))[1]?.text).toBe('x: no data');
  });
});

describe('sparklinePanel', () => {
  it('stacks one labelled sparkline per row, each placed below the last, and describes every row', () => {
    const svg = sparklinePanel({
      width: 400,
      rowHeight: 30,
      title: `Traffic ${NASTY}`,
      rows: [
        { label: 'Requests', values: [1, 5, 3] },
        { label: 'Latency p95 <ms>', values: [20, 30, 25], format: (v) => `${v} ms` },
        { label: 'Error rate', values: [Number.NaN, Number.NaN] },
      ],
    });
    const elements = check(svg);
    const nested = elements.filter((e, i) => e.name === 'svg' && i > 0);
    expect(nested.map((e) => Number(e.attrs.y))).toEqual([24, 54, 84]);
    expect(nested.every((e) => Number(e.attrs.x) > 0)).toBe(true);
    expect(Number(elements[0]?.attrs.height)).toBe(22 + 3 * 30 + 4);
    const desc = elements.find((e) => e.name === 'desc')?.text ?? '';
    expect(desc).toBe(
      'Requests: latest 3, range 1 to 5; Latency p95 &lt;ms&gt;: latest 25 ms, range 20 ms to 30 ms; Error rate: no data',
    );
    expect(elements.some((e) => e.name === 'text' && e.text === 'Latency p95 &lt;ms&gt;')).toBe(true);
    const png = toPng(svg, { width: 800 });
    expect(png.readUInt32BE(16)).toBe(800);
  });

  it('draws "No data" without rows', () => {
    const elements = check(sparklinePanel({ width: 300, rows: [] }));
    expect(elements.some((e) => e.name === 'text' && e.text === 'No data')).toBe(true);
  });
});

describe('histogramOverlay', () => {
  const bins = [
    { label: '<18', baseline: 0.1, current: 0.05 },
    { label: '18 & up', baseline: 0.4, current: 0.2 },
    { label: 'unknown "?"', baseline: 0.5, current: 0.75 },
  ];

  it('draws a baseline and a current bar per bin, scaled, with a legend', () => {
    const svg = histogramOverlay({ width: 480, height: 240, bins, title: 'age <drift>' });
    const elements = check(svg);
    expect(elements[1]?.text).toBe('age &lt;drift&gt;');
    expect(svg).toContain('&lt;18');
    expect(svg).toContain('18 &amp; up');
    expect(svg).toContain('unknown &quot;?&quot;');
    const plot = plotArea(elements);
    const bars = elements.filter(
      (e) =>
        e.name === 'rect' &&
        e.attrs.width &&
        elements.indexOf(e) > elements.findIndex((x) => x.attrs['data-bin']),
    );
    expect(bars).toHaveLength(6);
    // 0.75 is on the 80 % scale: its bar is 0.75 / 0.8 of the plot's height, standing on its bottom
    const top = bars[5];
    expect(Number(top?.attrs.height)).toBeCloseTo((plot.h * 0.75) / 0.8, 1);
    expect(Number(top?.attrs.y) + Number(top?.attrs.height)).toBeCloseTo(plot.y + plot.h, 1);
    // the baseline bars are dashed, the current solid: told apart without colour
    expect(bars[0]?.attrs['stroke-dasharray']).toBeTruthy();
    expect(bars[1]?.attrs['stroke-dasharray']).toBeUndefined();
    expect(svg).toContain('>Baseline<');
    expect(svg).toContain('>Current<');
    expect(svg).toContain('>80%<');
  });

  it('writes every bin edge label in full, on two staggered lines when one line is too narrow', () => {
    // ten numeric bins in a 640 px chart: each "[2.35, 2.65)" is wider than its slot
    const edges = Array.from({ length: 11 }, (_, i) => (1.45 + 0.3 * i).toFixed(2));
    const numeric = edges.slice(0, -1).map((lo, i) => ({
      label: `[${lo}, ${edges[i + 1]})`,
      baseline: 0.1,
      current: 0.1,
    }));
    const elements = check(histogramOverlay({ width: 640, height: 260, bins: numeric, title: 'x' }));
    const plot = plotArea(elements);
    const labels = elements.filter(
      (e) => e.name === 'text' && Number(e.attrs.y) > plot.y + plot.h && e.text.startsWith('['),
    );
    expect(labels.map((e) => e.text)).toEqual(numeric.map((b) => b.label));
    // neighbours sit on different lines, so no two labels overlap; all inside the picture
    const box = (e: (typeof labels)[number]) => {
      const half = (e.text.length * 11 * 0.6) / 2;
      return { x0: Number(e.attrs.x) - half, x1: Number(e.attrs.x) + half, y: Number(e.attrs.y) };
    };
    labels.forEach((e, i) => {
      const a = box(e);
      expect(a.y).toBeLessThanOrEqual(260);
      for (const other of labels.slice(i + 1)) {
        const b = box(other);
        expect(a.y !== b.y || a.x1 <= b.x0 || b.x1 <= a.x0).toBe(true);
      }
    });
  });

  it('handles no bins, NaN and all-zero values', () => {
    check(histogramOverlay({ width: 480, height: 240, bins: [], title: '' }));
    check(
      histogramOverlay({
        width: 480,
        height: 240,
        bins: [{ label: 'a', baseline: Number.NaN, current: 0.5 }],
        title: 't',
      }),
    );
    check(
      histogramOverlay({
        width: 480,
        height: 240,
        bins: [{ label: 'a', baseline: 0, current: 0 }],
        title: 't',
      }),
    );
    const many = Array.from({ length: 60 }, (_, i) => ({
      label: `category number ${i}`,
      baseline: 1 / 60,
      current: 1 / 60,
    }));
    check(histogramOverlay({ width: 300, height: 150, bins: many, title: 'many' }));
  });
});

describe('ticks', () => {
  it('picks nice numbers', () => {
    expect(niceTicks(0, 0.31).values).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(0, 1).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 3).values.length).toBeGreaterThan(1);
    expect(niceTicks(0, 0).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('puts time ticks on UTC boundaries', () => {
    const t = timeTicks(T0 + 3_600_000, T0 + 10 * DAY);
    for (const v of t.values) expect(v % DAY).toBe(0);
    expect(t.format(T0)).toBe('2026-11-01');
    const months = timeTicks(Date.UTC(2025, 0, 15), Date.UTC(2026, 0, 15));
    for (const v of months.values) expect(new Date(v).getUTCDate()).toBe(1);
  });
});

describe('toPng', () => {
  const svg = histogramOverlay({
    width: 480,
    height: 240,
    bins: [{ label: 'a', baseline: 0.3, current: 0.7 }],
    title: 'PNG',
  });

  it('returns a PNG of the requested width', () => {
    const png = toPng(svg, { width: 960 });
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBe(960);
    expect(png.readUInt32BE(20)).toBe(480);
    expect(toPng(svg).readUInt32BE(16)).toBe(480); // the SVG's own width by default
  });

  it('renders text (a font is installed: fonts-dejavu-core on Debian)', () => {
    const frame = (body: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40" viewBox="0 0 200 40"><rect width="200" height="40" fill="#fff"/>${body}</svg>`;
    const font = "Helvetica, Arial, 'DejaVu Sans', sans-serif";
    const blank = toPng(frame(''));
    const withText = toPng(frame(`<text x="10" y="28" font-size="20" font-family="${font}">PSI 0.25</text>`));
    expect(withText.equals(blank)).toBe(false);
  });

  it('rejects SVG that is not well-formed', () => {
    expect(() => toPng('<svg xmlns="http://www.w3.org/2000/svg"><text>a < b</text></svg>')).toThrow();
  });
});
