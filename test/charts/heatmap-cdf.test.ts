import { describe, expect, it } from 'vitest';
import { cdfChart, cdfDistance, heatmap, lineChart } from '../../src/charts/index.js';
import { toPng } from '../../src/charts/png.js';

// The heatmap and CDF charts of the web UI, and lineChart's deploy markers: well-formed SVG that resvg
// accepts, values in titles, marks besides colour.

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20);
const NASTY = 'a<b & "c" \'d\' >e\u0001';

interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
  parent: Element | null;
}

/** Tags nest and close, attributes are quoted; returns the elements with their parents. */
function parse(xml: string): Element[] {
  const out: Element[] = [];
  const stack: Element[] = [];
  const entity = /&(?!(amp|lt|gt|quot|apos|#\d+);)/;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (entity.test(text) || text.includes('>')) throw new Error(`bad text near ${i}`);
    const top = stack.at(-1);
    if (top) top.text += text;
    if (lt === -1) break;
    const gt = xml.indexOf('>', lt);
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      if (stack.pop()?.name !== tag.slice(1)) throw new Error(`mismatched </${tag.slice(1)}>`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*$/.exec(body);
      if (!m) throw new Error(`malformed <${tag}>`);
      const attrs: Record<string, string> = {};
      for (const a of (m[2] ?? '').matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1] ?? ''] = a[2] ?? '';
      const e: Element = { name: m[1] ?? '', attrs, text: '', parent: stack.at(-1) ?? null };
      out.push(e);
      if (!selfClosing) stack.push(e);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error('unclosed element');
  return out;
}

function check(svg: string): Element[] {
  const elements = parse(svg);
  expect(() => toPng(svg)).not.toThrow();
  expect(elements[0]?.name).toBe('svg');
  expect(elements[0]?.attrs.role).toBe('img');
  expect(elements[0]?.attrs['aria-label']).toBeTruthy();
  expect(svg).not.toMatch(/class=|<script|<style|NaN|Infinity|undefined/);
  return elements;
}

const titleOf = (elements: Element[], g: Element) =>
  elements.find((e) => e.name === 'title' && e.parent === g)?.text ?? '';

describe('heatmap', () => {
  const columns = [T0, T0 + HOUR, T0 + 2 * HOUR];
  const chart = () =>
    heatmap({
      width: 600,
      columns,
      valueLabel: 'PSI',
      levels: { warning: 0.1, critical: 0.25 },
      rows: [
        { label: 'age', values: [0.02, 0.15, 0.4], href: '/ui/models/m/features/age' },
        { label: NASTY, values: [null, Number.NaN, 0.05] },
      ],
    });

  it('draws a cell per row and column, each titled with its value and level', () => {
    const elements = check(chart());
    const cells = elements.filter((e) => e.name === 'g' && 'data-cell' in e.attrs);
    expect(cells).toHaveLength(6);
    expect(cells.map((c) => c.attrs['data-cell'])).toEqual(['0.02', '0.15', '0.4', '', '', '0.05']);
    expect(titleOf(elements, cells[1] as Element)).toBe(
      'age, window from 2026-11-20 01:00 UTC: PSI 0.15 (warning)',
    );
    expect(titleOf(elements, cells[2] as Element)).toContain('PSI 0.4 (critical)');
    expect(titleOf(elements, cells[3] as Element)).toContain('no PSI');
    // the row's label links to its page, and the nasty label is escaped
    const link = elements.find((e) => e.name === 'a');
    expect(link?.attrs.href).toBe('/ui/models/m/features/age');
    expect(chart()).toContain('a&lt;b &amp; &quot;c&quot;');
  });

  it('marks warning and critical cells with a shape, not only a colour', () => {
    const elements = check(chart());
    const cells = elements.filter((e) => e.name === 'g' && 'data-cell' in e.attrs);
    const shapes = (g: Element) =>
      elements.filter((e) => e.parent === g && e.name !== 'title' && e.name !== 'rect');
    expect(shapes(cells[0] as Element)).toHaveLength(0);
    expect(shapes(cells[1] as Element).map((e) => e.name)).toEqual(['circle']);
    expect(shapes(cells[2] as Element).map((e) => e.name)).toEqual(['path']);
    // no value: a crossed grey cell
    expect(shapes(cells[3] as Element).map((e) => e.name)).toEqual(['path']);
    const fills = cells.map((c) => elements.find((e) => e.parent === c && e.name === 'rect')?.attrs.fill);
    expect(new Set(fills.slice(0, 3)).size).toBe(3);
    expect(elements.filter((e) => e.attrs['data-role'] === 'legend')).toHaveLength(4);
  });

  it('draws a value from too few values in a neutral style with its own legend entry, not a level colour', () => {
    const few = heatmap({
      width: 600,
      columns,
      valueLabel: 'PSI',
      levels: { warning: 0.1, critical: 0.25 },
      rows: [{ label: 'age', values: [0.9, 0.9, 0.02], insufficient: [true, false, true] }],
    });
    const elements = check(few);
    const cells = elements.filter((e) => e.name === 'g' && 'data-cell' in e.attrs);
    const fillOf = (g: Element) => elements.find((e) => e.parent === g && e.name === 'rect')?.attrs.fill;
    const [thin, judged, thinLow] = cells as [Element, Element, Element];
    // the same PSI is critical red when judged, neutral when it rests on too few values, whatever its size
    expect(fillOf(judged)).toBe('#cf222e');
    expect(fillOf(thin)).not.toBe(fillOf(judged));
    expect(fillOf(thin)).toBe(fillOf(thinLow));
    expect(thin.attrs['data-insufficient']).toBe('true');
    expect(judged.attrs['data-insufficient']).toBeUndefined();
    expect(titleOf(elements, thin)).toBe(
      'age, window from 2026-11-20 00:00 UTC: PSI 0.9 (too few values for a verdict)',
    );
    expect(titleOf(elements, judged)).toContain('(critical)');
    // no triangle on it, and the legend names the style
    const shapes = elements.filter((e) => e.parent === thin && e.name === 'path');
    expect(shapes.map((e) => e.attrs.fill)).not.toContain('#ffffff');
    const legend = elements.filter((e) => e.attrs['data-role'] === 'legend');
    expect(legend).toHaveLength(5);
    const entry = legend.find((g) =>
      elements.some((e) => e.parent === g && e.text.includes('insufficient data')),
    );
    expect(elements.find((e) => e.parent === entry && e.name === 'rect')?.attrs.fill).toBe(fillOf(thin));
  });

  it('labels columns by window end when told so, the newest end labelled at its cell’s right edge', () => {
    const svg = heatmap({
      width: 600,
      columns,
      columnTime: 'end',
      valueLabel: 'PSI',
      levels: { warning: 0.1, critical: 0.25 },
      rows: [{ label: 'age', values: [0.02, 0.15, 0.4] }],
    });
    const elements = check(svg);
    const cells = elements.filter((e) => e.name === 'g' && 'data-cell' in e.attrs);
    expect(titleOf(elements, cells[2] as Element)).toBe(
      'age, window ending 2026-11-20 02:00 UTC: PSI 0.4 (critical)',
    );
    const newest = elements.find((e) => e.name === 'text' && e.text === '11-20 02:00') as Element;
    const lastRect = elements.find((e) => e.parent === cells[2] && e.name === 'rect') as Element;
    expect(Number(newest.attrs.x)).toBeCloseTo(Number(lastRect.attrs.x) + Number(lastRect.attrs.width), 1);
    expect(newest.attrs['text-anchor']).toBe('end');
  });

  it('grows with its rows and draws empty or odd input without throwing', () => {
    const h = (rows: number) =>
      Number(
        parse(
          heatmap({
            width: 500,
            rowHeight: 10,
            columns,
            valueLabel: 'PSI',
            levels: { warning: 0.1, critical: 0.25 },
            rows: Array.from({ length: rows }, (_, i) => ({ label: `f${i}`, values: [i, i, i] })),
          }),
        )[0]?.attrs.height,
      );
    expect(h(20) - h(10)).toBe(100);
    for (const o of [
      { columns: [], rows: [] },
      { columns, rows: [] },
      { columns: [T0], rows: [{ label: 'x', values: [] }] },
      { columns: [Number.NaN, T0], rows: [{ label: 'x', values: [Number.POSITIVE_INFINITY, 1] }] },
    ]) {
      check(heatmap({ width: 0, valueLabel: 'PSI', levels: { warning: Number.NaN, critical: 0.2 }, ...o }));
    }
    expect(
      heatmap({
        width: 400,
        valueLabel: 'PSI',
        levels: { warning: 0.1, critical: 0.2 },
        columns: [],
        rows: [],
      }),
    ).toContain('No data');
  });
});

describe('cdfChart', () => {
  const baseline = {
    name: 'Baseline',
    points: [
      { x: 0, y: 0.25 },
      { x: 10, y: 0.5 },
      { x: 20, y: 0.75 },
      { x: 30, y: 1 },
    ],
  };
  const current = {
    name: 'Current',
    points: [
      { x: 0, y: 0.05 },
      { x: 10, y: 0.1 },
      { x: 20, y: 0.5 },
      { x: 30, y: 1 },
    ],
  };

  it('finds the largest distance between the step functions', () => {
    expect(cdfDistance(baseline, current)).toEqual({ d: 0.4, x: 10, baseline: 0.5, current: 0.1 });
    // points at different x: compared as step functions (the last share at or before x)
    expect(
      cdfDistance({ name: 'a', points: [{ x: 1, y: 1 }] }, { name: 'b', points: [{ x: 2, y: 1 }] })?.d,
    ).toBe(1);
    expect(cdfDistance({ name: 'a', points: [] }, current)).toBeNull();
  });

  it('draws both step lines and a labelled segment where D is', () => {
    const svg = cdfChart({ width: 480, height: 260, title: `x ${NASTY}`, baseline, current, xLabel: 'x' });
    const elements = check(svg);
    const series = elements.filter((e) => 'data-series' in e.attrs).map((e) => e.attrs['data-series']);
    expect(series).toEqual(['Baseline', 'Current']);
    const paths = elements.filter((e) => e.name === 'path' && e.parent?.attrs['data-series']);
    expect(paths[0]?.attrs['stroke-dasharray']).toBeTruthy();
    expect(paths[1]?.attrs['stroke-dasharray']).toBeUndefined();
    // steps: horizontal then vertical moves only
    expect(paths[1]?.attrs.d).toMatch(/^M[\d.]+ [\d.]+(H[\d.]+V[\d.]+)+H[\d.]+$/);
    const ks = elements.find((e) => e.attrs['data-role'] === 'ks') as Element;
    expect(ks.attrs['data-d']).toBe('0.4');
    expect(ks.attrs['data-x']).toBe('10');
    const label = elements.find((e) => e.parent === ks && e.name === 'text');
    expect(label?.text).toBe('D = 0.4');
    // the segment spans the two curves at x = 10: 50 % and 10 % of the plot height
    const plot = elements.find((e) => e.attrs['data-role'] === 'plot') as Element;
    const seg = elements.find((e) => e.parent === ks && e.name === 'line') as Element;
    const y = (share: number) => Number(plot.attrs.y) + Number(plot.attrs.height) * (1 - share);
    expect(Number(seg.attrs.y1)).toBeCloseTo(y(0.5), 1);
    expect(Number(seg.attrs.y2)).toBeCloseTo(y(0.1), 1);
    expect(svg).toContain('x a&lt;b');
  });

  it('draws empty, identical and odd input without throwing', () => {
    const empty = cdfChart({
      width: 300,
      height: 200,
      title: '',
      baseline: { name: 'B', points: [] },
      current: { name: 'C', points: [] },
    });
    check(empty);
    expect(empty).toContain('No data');
    const same = check(
      cdfChart({ width: 300, height: 200, title: 't', baseline, current: { ...baseline, name: 'C' } }),
    );
    expect(same.some((e) => e.attrs['data-role'] === 'ks')).toBe(false);
    check(
      cdfChart({
        width: Number.NaN,
        height: 0,
        title: 't',
        baseline: {
          name: 'B',
          points: [
            { x: 5, y: 2 },
            { x: Number.NaN, y: 0.5 },
          ],
        },
        current: { name: 'C', points: [{ x: 5, y: -1 }] },
      }),
    );
  });
});

describe('lineChart markers', () => {
  const series = [{ name: 'psi', points: [0, 1, 2, 3].map((i) => ({ x: T0 + i * HOUR, y: i / 10 })) }];

  it('draws a labelled vertical line per marker inside the time range, and leaves the rest out', () => {
    const svg = lineChart({
      width: 640,
      height: 300,
      yLabel: 'PSI',
      series,
      markers: [
        { x: T0 + HOUR, label: 'v2 activated' },
        { x: T0 + 2 * HOUR, label: `baseline 7 ${NASTY}` },
        { x: T0 - 5 * HOUR, label: 'before the range' },
      ],
    });
    const elements = check(svg);
    const markers = elements.filter((e) => e.attrs['data-role'] === 'marker');
    expect(markers).toHaveLength(2);
    const plot = elements.find((e) => e.attrs['data-role'] === 'plot') as Element;
    const line = elements.find((e) => e.parent === markers[0] && e.name === 'line') as Element;
    expect(Number(line.attrs.x1)).toBeCloseTo(Number(plot.attrs.x) + Number(plot.attrs.width) / 3, 1);
    expect(elements.find((e) => e.parent === markers[0] && e.name === 'text')?.text).toBe('v2 activated');
    expect(svg).toContain('baseline 7 a&lt;b');
    expect(svg).toContain('Events: v2 activated on 2026-11-20');
  });

  it('keeps threshold and marker labels apart, each threshold label next to its line', () => {
    // PSI up to 6 puts 0.1 and 0.25 a few px apart; two activations an hour apart share the top left.
    const svg = lineChart({
      width: 640,
      height: 300,
      yLabel: 'PSI',
      series: [{ name: 'psi', points: [0, 1, 2, 3].map((i) => ({ x: T0 + i * HOUR, y: i * 2 })) }],
      thresholds: [
        { y: 0.1, label: 'warning' },
        { y: 0.25, label: 'critical' },
        { y: 6, label: 'top' },
      ],
      markers: [
        { x: T0 + 2 * HOUR, label: 'version v2' },
        { x: T0 + 2 * HOUR, label: 'baseline 3' },
        { x: T0 + 2.2 * HOUR, label: 'rollback to v1' },
      ],
    });
    const elements = check(svg);
    const labelOf = (role: string) =>
      elements
        .filter((e) => e.attrs['data-role'] === role)
        .map((g) => elements.find((e) => e.parent === g && e.name === 'text') as Element);
    // the box a label covers: 0.6 em a character, from its baseline 9 px up to 2 px down
    const box = (t: Element) => {
      const w = [...t.text].length * 6;
      const x = Number(t.attrs.x);
      const x0 = t.attrs['text-anchor'] === 'end' ? x - w : x;
      return { x0, x1: x0 + w, y0: Number(t.attrs.y) - 9, y1: Number(t.attrs.y) + 2 };
    };
    const labels = [...labelOf('threshold'), ...labelOf('marker')];
    expect(labels).toHaveLength(6);
    const boxes = labels.map(box);
    boxes.forEach((a, i) => {
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0;
        expect(apart, `${labels[i]?.text} overlaps another label`).toBe(true);
      }
    });
    const lines = elements
      .filter((e) => e.attrs['data-role'] === 'threshold')
      .map((g) => Number(elements.find((e) => e.parent === g && e.name === 'line')?.attrs.y1));
    labelOf('threshold').forEach((t, i) => {
      expect(Math.abs(Number(t.attrs.y) - (lines[i] as number))).toBeLessThanOrEqual(12);
    });
  });

  it('ends the time axis at the only point instead of half a day after it', () => {
    const elements = check(
      lineChart({
        width: 640,
        height: 300,
        yLabel: 'PSI',
        series: [{ name: 'one', points: [{ x: T0, y: 1 }] }],
      }),
    );
    const plot = elements.find((e) => e.attrs['data-role'] === 'plot') as Element;
    const dot = elements.find((e) => e.name === 'circle') as Element;
    expect(Number(dot.attrs.cx)).toBeCloseTo(Number(plot.attrs.x) + Number(plot.attrs.width), 1);
    // no time tick lies after the point
    const ticks = elements.filter((e) => e.name === 'text' && /^\d\d-\d\d \d\d:\d\d$/.test(e.text));
    expect(ticks.length).toBeGreaterThan(0);
    expect(ticks.every((e) => Number(e.attrs.x) <= Number(dot.attrs.cx) + 6)).toBe(true);
  });

  it('is unchanged without markers', () => {
    const a = lineChart({ width: 640, height: 300, yLabel: 'PSI', series });
    const b = lineChart({ width: 640, height: 300, yLabel: 'PSI', series, markers: [] });
    expect(a).toBe(b);
    expect(a).not.toContain('data-role="marker"');
  });
});
