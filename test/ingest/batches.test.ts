import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  getJson,
  ingestJson,
  ingestNdjson,
  rec,
  rowCount,
  storedRecords,
  storedRejections,
  storedRequestIds,
} from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

interface ModelsBody {
  models: {
    model: string;
    record_count: number;
    versions: { model_version: string | null; record_count: number }[];
  }[];
}

describe('status codes', () => {
  it('answers 200 when every record is accepted', async () => {
    const res = await ingestJson(t.app, [rec('a'), rec('b')]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
  });

  it('answers 207 when some records are accepted and some rejected', async () => {
    const res = await ingestJson(t.app, [rec('a'), rec('b', { status: 'nope' })]);
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected.map((r) => r.index)).toEqual([1]);
  });

  it('answers 422 when records were sent and none accepted', async () => {
    const res = await ingestJson(t.app, [rec('a', { latency_ms: -1 }), 7]);
    expect(res.status).toBe(422);
    expect(res.body.accepted).toBe(0);
    expect(res.body.rejected.map((r) => r.index)).toEqual([0, 1]);
    expect(await rowCount(t, 'records')).toBe(0);
    expect(await rowCount(t, 'rejections')).toBe(2);
  });
});

describe('mixed batches', () => {
  it('stores the good records and lists the bad ones by index, keeping them with their raw text', async () => {
    const bad1 = rec('bad-1', { timestamp: 1_700_000_000 });
    const bad3 = { model: 'iris', request_id: 'bad-3' };
    const res = await ingestJson(t.app, {
      records: [rec('good-0'), bad1, rec('good-2'), bad3, rec('good-4')],
    });
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(3);
    expect(res.body.duplicates).toBe(0);
    expect(res.body.rejected).toEqual([
      {
        index: 1,
        errors: [
          {
            path: 'records[1].timestamp',
            message: 'epoch timestamps must be milliseconds (this looks like seconds)',
          },
        ],
      },
      { index: 3, errors: [{ path: 'records[3].features', message: 'required' }] },
    ]);

    expect(await storedRequestIds(t.app)).toEqual(['good-0', 'good-2', 'good-4']);

    const rejections = await storedRejections(t.app);
    // Newest first.
    expect(rejections.map((r) => r.index)).toEqual([3, 1]);
    const requestId = res.headers.get('x-request-id');
    for (const r of rejections) {
      expect(r.ingest_request_id).toBe(requestId);
      expect(r.received_at).toBe(new Date(FIXED_NOW).toISOString());
      expect(r.model).toBe('iris');
      expect(r.line).toBeUndefined();
    }
    expect(rejections[0]?.request_id).toBe('bad-3');
    expect(JSON.parse(rejections[0]?.raw ?? '')).toEqual(bad3);
    expect(JSON.parse(rejections[1]?.raw ?? '')).toEqual(bad1);
    expect(rejections[1]?.errors).toEqual(res.body.rejected[0]?.errors);
  });

  it('lists NDJSON rejections by line and keeps the exact text of a line that is not JSON', async () => {
    const badLine = '{"model": "iris", "request_id": "x", features: {}}';
    const text = [
      JSON.stringify(rec('a')),
      badLine,
      JSON.stringify(rec('c', { label: [] })),
      JSON.stringify(rec('d')),
    ].join('\n');
    const res = await ingestNdjson(t.app, text);
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toEqual([
      {
        line: 2,
        errors: [
          {
            path: 'line[2]',
            message: 'not valid JSON: unexpected character "f", expected a quoted key at column 38',
          },
        ],
      },
      {
        line: 3,
        errors: [{ path: 'line[3].label', message: 'expected number, string, boolean or null, got array' }],
      },
    ]);
    expect(await storedRequestIds(t.app)).toEqual(['a', 'd']);

    const rejections = await storedRejections(t.app);
    expect(rejections.map((r) => r.line)).toEqual([3, 2]);
    expect(rejections[1]?.raw).toBe(badLine);
    // Nothing could be read from a line that is not JSON, so model and request id stay unknown.
    expect(rejections[1]?.model).toBeNull();
    expect(rejections[1]?.request_id).toBeNull();
    expect(rejections[0]?.request_id).toBe('c');
    expect(rejections[0]?.index).toBeUndefined();
  });

  it('answers 422 for an NDJSON body whose every line is bad, and stores each line as a rejection', async () => {
    const res = await ingestNdjson(t.app, 'nope\n{"a":\n[1,2');
    expect(res.status).toBe(422);
    expect(res.body.rejected.map((r) => r.line)).toEqual([1, 2, 3]);
    const raws = (await storedRejections(t.app)).map((r) => r.raw);
    expect(raws).toEqual(['[1,2', '{"a":', 'nope']);
  });
});

describe('duplicates', () => {
  it('stores the first occurrence within a batch and counts the rest as duplicates', async () => {
    const res = await ingestJson(t.app, [
      rec('a', { features: { petal_width: 1 } }),
      rec('b'),
      rec('a', { features: { petal_width: 2 } }),
      rec('a', { features: { petal_width: 3 } }),
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 2, rejected: [] });
    const stored = await storedRecords(t.app);
    expect(stored).toHaveLength(2);
    expect(stored.find((r) => r.request_id === 'a')?.features).toEqual({ petal_width: 1 });
  });

  it('skips records already stored by an earlier request, keeping the first version', async () => {
    await ingestJson(t.app, [rec('a', { label: 'first' }), rec('b')]);
    const res = await ingestJson(t.app, [rec('a', { label: 'second' }), rec('b'), rec('c')]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 1, duplicates: 2, rejected: [] });
    const stored = await storedRecords(t.app);
    expect(stored.map((r) => r.request_id).sort()).toEqual(['a', 'b', 'c']);
    expect(stored.find((r) => r.request_id === 'a')?.label).toBe('first');
  });

  it('does not double-count duplicates in GET /v1/models', async () => {
    await ingestJson(t.app, [rec('a', { model_version: 'v1' }), rec('b', { model_version: 'v1' })]);
    await ingestJson(t.app, [
      rec('a', { model_version: 'v1' }),
      rec('c', { model_version: 'v1' }),
      rec('c', { model_version: 'v1' }),
    ]);
    await ingestNdjson(t.app, `${JSON.stringify(rec('b', { model_version: 'v1' }))}\n`);
    const { body } = await getJson<ModelsBody>(t.app, '/v1/models');
    expect(body.models).toHaveLength(1);
    expect(body.models[0]?.record_count).toBe(3);
    expect(body.models[0]?.versions).toEqual([
      expect.objectContaining({ model_version: 'v1', record_count: 3 }),
    ]);
    expect(await rowCount(t, 'records')).toBe(3);
  });

  it('treats the same request_id under two models as two records', async () => {
    const res = await ingestJson(t.app, [rec('a'), rec('a', { model: 'other' })]);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await storedRequestIds(t.app, 'iris')).toEqual(['a']);
    expect(await storedRequestIds(t.app, 'other')).toEqual(['a']);
  });

  it('answers 200 for a batch made only of duplicates', async () => {
    await ingestJson(t.app, [rec('a')]);
    const res = await ingestJson(t.app, [rec('a')]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it('answers 207, not 422, when the only good record is a duplicate', async () => {
    await ingestJson(t.app, [rec('a')]);
    const res = await ingestJson(t.app, [rec('a'), rec('b', { status: 'x' })]);
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(0);
    expect(res.body.duplicates).toBe(1);
  });

  it('counts a rejected record as a rejection, not a duplicate, even when its id repeats', async () => {
    const res = await ingestJson(t.app, [rec('a'), rec('a', { latency_ms: -1 })]);
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(1);
    expect(res.body.duplicates).toBe(0);
    expect(res.body.rejected.map((r) => r.index)).toEqual([1]);
  });
});

describe('GET /v1/ingest/rejections', () => {
  async function rejectSome(model: string, n: number): Promise<void> {
    const records = Array.from({ length: n }, (_, i) => rec(`${model}-${i}`, { model, status: 'bad' }));
    const res = await ingestJson(t.app, records);
    expect(res.status).toBe(422);
  }

  it('filters by model and pages newest first with limit and before', async () => {
    await rejectSome('alpha', 3);
    await rejectSome('beta', 2);
    const all = await storedRejections(t.app);
    expect(all).toHaveLength(5);
    expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => b - a));

    expect((await storedRejections(t.app, 'model=alpha')).map((r) => r.request_id)).toEqual([
      'alpha-2',
      'alpha-1',
      'alpha-0',
    ]);

    const page1 = await storedRejections(t.app, 'limit=2');
    expect(page1.map((r) => r.request_id)).toEqual(['beta-1', 'beta-0']);
    const page2 = await storedRejections(t.app, `limit=2&before=${page1[1]?.id}`);
    expect(page2.map((r) => r.request_id)).toEqual(['alpha-2', 'alpha-1']);
  });

  it.each([
    ['limit=0', /^limit: /, 'limit'],
    ['limit=1001', /^limit: /, 'limit'],
    ['before=-1', /^before: /, 'before'],
    ['since=yesterday', /^since: unknown field$/, 'since'],
  ])('answers 400 for %s, naming the parameter', async (query, message, path) => {
    const { status, body } = await getJson<{
      error: { code: string; message: string; details: { problems: { path: string }[] } };
    }>(t.app, `/v1/ingest/rejections?${query}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toMatch(message);
    expect(body.error.details.problems.map((p) => p.path)).toEqual([path]);
  });
});
