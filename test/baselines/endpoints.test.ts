import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { outerEdges } from '../../src/profiles/profile.js';
import { nextUp } from '../../src/stats/index.js';
import {
  type BaselineBody,
  type BaselineDetailBody,
  baselineDetail,
  column,
  createBaseline,
  feature,
  ingestAll,
  mrec,
  postBaseline,
  runDriftOne,
} from '../drift/helpers.js';
import { type ErrorBody, getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const app = () => {
  t = makeTestApp({ drift: { minSamples: 1 } });
  return t.app;
};
const QUOTED = readFileSync(new URL('../fixtures/quoted-commas.csv', import.meta.url), 'utf8');
const rows = Array.from({ length: 50 }, (_, i) => ({ x: i / 2, color: ['a', 'b'][i % 2] as string }));

async function listOf(a: TestApp['app'], model = 'm') {
  const res = await getJson<{ baselines: BaselineBody[] }>(a, `/v1/models/${model}/baselines`);
  expect(res.status).toBe(200);
  return res.body.baselines;
}

describe('baseline detail and list', () => {
  it('describes a created baseline: identity of the bytes, provenance, activation', async () => {
    const a = app();
    const text = JSON.stringify(rows);
    const created = await createBaseline(a, 'm', text, 'application/json', {
      model_version: '2.1',
      code_commit: 'abc123',
      notes: 'first cut',
    });
    expect(created).toMatchObject({
      model: 'm',
      model_version: '2.1',
      sha256: createHash('sha256').update(text).digest('hex'),
      row_count: 50,
      code_commit: 'abc123',
      notes: 'first cut',
      created_at: new Date(FIXED_NOW).toISOString(),
      active: true,
      activated_at: new Date(FIXED_NOW).toISOString(),
      reaggregated_records: 0,
    });

    const plain = await getJson<BaselineDetailBody>(a, `/v1/models/m/baselines/${created.id}`);
    expect(plain.status).toBe(200);
    const { reaggregated_records: _r, ...view } = created;
    expect(plain.body).toMatchObject(view);
    const x = plain.body.columns.find((c) => c.name === 'x');
    // Without include=grid the fine grid is summarised by its size only.
    expect(x).toMatchObject({
      role: 'feature',
      type: 'numeric',
      count: 50,
      missing: 0,
      min: 0,
      max: 24.5,
      exact: true,
    });
    expect(x).not.toHaveProperty('gridEdges');
    expect(x).not.toHaveProperty('gridCounts');
    const full = await baselineDetail(a, 'm', created.id);
    const fullX = column(full, 'x', 'numeric');
    // An exact grid holds every distinct training value plus the decile cut points, then one edge just
    // above the maximum so values beyond it get a cell of their own, then the cells beyond the range.
    const all = fullX.gridEdges ?? [];
    const max = Math.max(...rows.map((r) => r.x));
    const outer = outerEdges(0, max, fullX.std, false);
    expect(all.slice(0, outer.below.length)).toEqual(outer.below);
    expect(all.slice(all.length - outer.above.length)).toEqual(outer.above);
    const edges = all.slice(outer.below.length, all.length - outer.above.length);
    expect(edges.slice(0, -1)).toEqual(
      [...new Set([...rows.map((r) => r.x), ...fullX.psiEdges])].sort((p, q) => p - q),
    );
    expect(edges.at(-1)).toBeGreaterThan(max);
    expect(edges.at(-1)).toBe(nextUp(max));
    expect((x as { grid_cells: number }).grid_cells).toBe(fullX.gridCounts?.length);
    expect(fullX.gridCounts?.reduce((s, c) => s + c, 0)).toBe(50);
    expect(fullX.mean).toBeCloseTo(12.25, 12);
    expect(column(full, 'color', 'categorical')).toMatchObject({
      categories: ['a', 'b'],
      counts: [25, 25, 0],
      pooled: [],
    });
  });

  it('lists a model’s baselines newest first and no other model’s', async () => {
    const a = app();
    const first = await createBaseline(a, 'm', JSON.stringify(rows), 'application/json');
    const second = await createBaseline(a, 'm', JSON.stringify(rows.slice(0, 10)), 'application/json', {
      activate: 'false',
    });
    await createBaseline(a, 'other', JSON.stringify(rows), 'application/json');
    const list = await listOf(a);
    expect(list.map((b) => [b.id, b.active, b.row_count])).toEqual([
      [second.id, false, 10],
      [first.id, true, 50],
    ]);
    expect(list[0]).not.toHaveProperty('columns');
    expect(await listOf(a, 'nobody')).toEqual([]);
  });

  it('answers 404 for an unknown baseline or one of another model, 400 for a malformed id', async () => {
    const a = app();
    const b = await createBaseline(a, 'm', JSON.stringify(rows), 'application/json');
    expect((await getJson<ErrorBody>(a, `/v1/models/m/baselines/${b.id + 1}`)).status).toBe(404);
    expect((await getJson<ErrorBody>(a, `/v1/models/other/baselines/${b.id}`)).status).toBe(404);
    const bad = await getJson<ErrorBody>(a, '/v1/models/m/baselines/1.5');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_request');
  });
});

describe('training data formats', () => {
  it('parses CSV with quoted fields holding commas, quotes and newlines, and pandas-style missing tokens', async () => {
    const a = app();
    const b = await createBaseline(a, 'm', QUOTED, 'text/csv; charset=utf-8');
    expect(b.row_count).toBe(6);
    const d = await baselineDetail(a, 'm', b.id);
    expect(column(d, 'city', 'categorical')).toMatchObject({
      categories: ['Portland, OR', 'Austin, TX', 'Boston'],
      counts: [3, 2, 1, 0],
      missing: 0,
    });
    const note = column(d, 'note', 'categorical');
    expect(note.categories).toContain('said "hi", then left');
    expect(note.categories).toContain('a, b, c');
    expect(note.categories).toContain('multi\nline');
    expect(note.missing).toBe(1);
    expect(column(d, 'price', 'numeric')).toMatchObject({ count: 5, missing: 1, min: 8.25, max: 12 });
    expect(column(d, 'rooms', 'numeric')).toMatchObject({ count: 5, missing: 1, min: 1, max: 4 });

    // The quoted category matches the same text sent at ingest: not unseen.
    await ingestAll(a, [
      mrec('q1', { city: 'Portland, OR', price: 10, rooms: 2, note: 'x' }, { timestamp: FIXED_NOW }),
      mrec('q2', { city: 'Portland', price: 10, rooms: 2, note: 'x' }, { timestamp: FIXED_NOW }),
    ]);
    expect(feature(await runDriftOne(a, 'm'), 'city').unseen_rate).toBe(0.5);
  });

  it('accepts NDJSON and {"rows": [...]} and gives the same profile for the same rows', async () => {
    const a = app();
    const nd = await createBaseline(
      a,
      'm',
      `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`,
      'application/x-ndjson',
    );
    const wrapped = await createBaseline(a, 'm', JSON.stringify({ rows }), 'application/json', {
      activate: 'false',
    });
    const strip = (d: BaselineDetailBody) => d.columns;
    expect(strip(await baselineDetail(a, 'm', nd.id))).toEqual(
      strip(await baselineDetail(a, 'm', wrapped.id)),
    );
  });

  it('infers types, honours categorical/numeric/exclude/top_k, and counts missing values of absent columns', async () => {
    const a = app();
    const data = [
      { code: 1, mixed: 1, label: 'x', forced: '3', late: undefined },
      { code: 2, mixed: 'two', label: 'y', forced: 'n/a!' },
      { code: 2, mixed: 3, label: 'y', forced: '5', late: 7 },
      { code: 3, mixed: null, label: 'z', forced: '6', late: 8 },
    ];
    const b = await createBaseline(a, 'm', JSON.stringify(data), 'application/json', {
      categorical: 'code',
      numeric: 'forced',
      exclude: 'label',
      top_k: '1',
    });
    const d = await baselineDetail(a, 'm', b.id);
    expect(d.columns.map((c) => c.name).sort()).toEqual(['code', 'forced', 'late', 'mixed']);
    expect(column(d, 'code', 'categorical')).toMatchObject({
      categories: ['2'],
      counts: [2, 2],
      pooled: ['1', '3'],
    });
    expect(column(d, 'mixed', 'categorical')).toMatchObject({ count: 3, missing: 1 });
    // A forced-numeric value that is not a number counts as missing, not as a category.
    expect(column(d, 'forced', 'numeric')).toMatchObject({ count: 3, missing: 1, min: 3, max: 6 });
    expect(column(d, 'late', 'numeric')).toMatchObject({ count: 2, missing: 2 });
  });
});

describe('baseline upload errors', () => {
  async function refused(
    a: TestApp['app'],
    body: string,
    contentType: string,
    query: Record<string, string> = {},
  ) {
    const res = await postBaseline(a, 'm', body, contentType, query);
    return { status: res.status, error: (res.body as unknown as ErrorBody).error };
  }

  it('answers 415 for a content type that is not CSV, NDJSON or JSON', async () => {
    const a = app();
    const res = await refused(a, 'x\n1\n', 'text/plain');
    expect(res.status).toBe(415);
    expect(res.error.code).toBe('unsupported_media_type');
    expect(res.error.message).toContain('text/plain');
    expect(
      (await a.request('/v1/models/m/baselines', { method: 'POST', body: new Uint8Array([1]) })).status,
    ).toBe(415);
    expect(await listOf(a)).toEqual([]);
  });

  it('answers 400 naming an unknown --categorical, --numeric or --prediction column', async () => {
    const a = app();
    for (const query of [{ categorical: 'nope' }, { numeric: 'x,nope' }, { prediction: 'nope' }] as Record<
      string,
      string
    >[]) {
      const res = await refused(a, 'x,y\n1,2\n', 'text/csv', query);
      expect(res.status).toBe(400);
      expect(res.error.code).toBe('invalid_body');
      expect(res.error.message).toContain('nope');
    }
    expect(await listOf(a)).toEqual([]);
  });

  it('answers 400 for empty training data in every format', async () => {
    const a = app();
    for (const [body, type] of [
      ['x,y\n', 'text/csv'],
      ['', 'text/csv'],
      ['[]', 'application/json'],
      ['{"rows": []}', 'application/json'],
      ['\n\n', 'application/x-ndjson'],
    ] as const) {
      const res = await refused(a, body, type);
      expect(res.status, `${type} ${JSON.stringify(body)}`).toBe(400);
    }
    expect(await listOf(a)).toEqual([]);
  });

  it('answers 400 for malformed training data and for unknown query parameters', async () => {
    const a = app();
    const cases: [string, string, Record<string, string>][] = [
      ['x,y\n1,2\n3\n', 'text/csv', {}],
      ['{"x": 1', 'application/json', {}],
      ['{"x": 1}', 'application/json', {}],
      ['[{"x": 1}, 5]', 'application/json', {}],
      ['{"x": 1}\nnot json\n', 'application/x-ndjson', {}],
      ['{"x": 1}\n', 'application/x-ndjson', { colour: 'x' }],
      ['{"x": 1}\n', 'application/x-ndjson', { top_k: '0' }],
      ['{"only": "label"}\n', 'application/x-ndjson', { label: 'only' }],
    ];
    for (const [body, type, query] of cases) {
      const res = await refused(a, body, type, query);
      expect(res.status, `${type} ${JSON.stringify(body)} ${JSON.stringify(query)}`).toBe(400);
    }
    const nd = await refused(a, '{"x": 1}\nnot json\n', 'application/x-ndjson');
    expect(nd.error.message).toContain('line 2');
    expect(await listOf(a)).toEqual([]);
  });

  it('refuses a model name that ingest would refuse, naming the rule', async () => {
    const a = app();
    const res = await a.request('/v1/models/bad%20name/baselines', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"x": 1}\n',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.details).toEqual({
      problems: [{ path: 'model', message: expect.stringContaining('letters, digits') }],
    });
  });

  it('refuses a CSV whose header names a column twice instead of keeping the last one', async () => {
    const a = app();
    const res = await a.request('/v1/models/m/baselines', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b,a\n1,2,3\n',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toBe(
      'training CSV: column "a" appears twice in the header',
    );
  });
});
