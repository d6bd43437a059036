import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelSummary } from '../src/models/service.js';
import { type ErrorBody, getJson, ingestJson, rec, storedRecords } from './helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from './support.js';

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

const HOUR = 3_600_000;
const at = (hour: number) => new Date(Date.parse('2026-11-20T00:00:00Z') + hour * HOUR).toISOString();

type ModelBody = ModelSummary;

describe('GET /v1/models', () => {
  it('answers an empty list before any ingest', async () => {
    expect(await getJson(t.app, '/v1/models')).toMatchObject({ status: 200, body: { models: [] } });
  });

  it('summarises each model and version by count, event-time range and last receipt', async () => {
    await ingestJson(t.app, [
      rec('a', { model_version: 'v1', timestamp: at(5) }),
      rec('b', { model_version: 'v1', timestamp: at(1) }),
      rec('c', { model_version: 'v2', timestamp: at(9) }),
      rec('d', { model: 'zeta', timestamp: at(3) }),
    ]);
    t.setNow(FIXED_NOW + 1000);
    await ingestJson(t.app, [rec('e', { model_version: 'v2', timestamp: at(7) })]);

    const { body } = await getJson<{ models: ModelBody[] }>(t.app, '/v1/models');
    expect(body.models.map((m) => m.model)).toEqual(['iris', 'zeta']);
    const [iris, zeta] = body.models;
    expect(iris).toEqual({
      model: 'iris',
      record_count: 4,
      first_timestamp: at(1),
      last_timestamp: at(9),
      last_received_at: new Date(FIXED_NOW + 1000).toISOString(),
      versions: [
        {
          model_version: 'v1',
          record_count: 2,
          first_timestamp: at(1),
          last_timestamp: at(5),
          last_received_at: new Date(FIXED_NOW).toISOString(),
        },
        {
          model_version: 'v2',
          record_count: 2,
          first_timestamp: at(7),
          last_timestamp: at(9),
          last_received_at: new Date(FIXED_NOW + 1000).toISOString(),
        },
      ],
    });
    expect(zeta?.versions).toEqual([expect.objectContaining({ model_version: null, record_count: 1 })]);
  });

  it('does not count rejected records', async () => {
    await ingestJson(t.app, [rec('a'), rec('b', { status: 'nope' })]);
    const { body } = await getJson<{ models: ModelBody[] }>(t.app, '/v1/models');
    expect(body.models[0]?.record_count).toBe(1);
  });
});

describe('GET /v1/models/:model', () => {
  it('answers the summary of one model', async () => {
    await ingestJson(t.app, [rec('a'), rec('b', { model: 'other' })]);
    const { status, body } = await getJson<ModelBody>(t.app, '/v1/models/other');
    expect(status).toBe(200);
    expect(body.model).toBe('other');
    expect(body.record_count).toBe(1);
  });

  it('answers 404 in the error envelope for a model that sent nothing', async () => {
    const { status, body, headers } = await getJson<ErrorBody>(t.app, '/v1/models/ghost');
    expect(status).toBe(404);
    expect(body).toEqual({
      error: {
        code: 'not_found',
        message: 'model ghost has sent no records',
        requestId: headers.get('x-request-id'),
      },
    });
  });
});

describe('GET /v1/models/:model/records', () => {
  beforeEach(async () => {
    const res = await ingestJson(
      t.app,
      Array.from({ length: 6 }, (_, h) => rec(`h${h}`, { timestamp: at(h) })),
    );
    expect(res.body.accepted).toBe(6);
  });

  const ids = async (query: string) => (await storedRecords(t.app, 'iris', query)).map((r) => r.request_id);

  it('answers the most recent records by event time first', async () => {
    expect(await ids('')).toEqual(['h5', 'h4', 'h3', 'h2', 'h1', 'h0']);
  });

  it('limits the count', async () => {
    expect(await ids('limit=2')).toEqual(['h5', 'h4']);
  });

  it('filters by the half-open range [from, to) given in RFC 3339', async () => {
    expect(await ids(`from=${at(1)}&to=${at(4)}`)).toEqual(['h3', 'h2', 'h1']);
  });

  it('accepts epoch milliseconds for from and to', async () => {
    expect(await ids(`from=${Date.parse(at(4))}`)).toEqual(['h5', 'h4']);
    expect(await ids(`to=${Date.parse(at(1))}`)).toEqual(['h0']);
  });

  it('combines the range with the limit, keeping the newest', async () => {
    expect(await ids(`from=${at(0)}&to=${at(5)}&limit=2`)).toEqual(['h4', 'h3']);
  });

  it('answers an empty list for a model with no records', async () => {
    expect(await storedRecords(t.app, 'ghost', '')).toEqual([]);
  });

  it.each([
    [
      'from=yesterday',
      'from: expected RFC 3339 time or epoch milliseconds (years 1–9999), got "yesterday"',
      'from',
    ],
    [
      'to=2026-13-45',
      'to: expected RFC 3339 time or epoch milliseconds (years 1–9999), got "2026-13-45"',
      'to',
    ],
    ['limit=0', /^limit: /, 'limit'],
    ['limit=1001', /^limit: /, 'limit'],
    ['limit=ten', /^limit: /, 'limit'],
    ['order=asc', 'order: unknown field', 'order'],
  ])('answers 400 for %s, naming the parameter', async (query, message, path) => {
    const { status, body, headers } = await getJson<ErrorBody>(t.app, `/v1/models/iris/records?${query}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('bad_request');
    if (typeof message === 'string') expect(body.error.message).toBe(message);
    else expect(body.error.message).toMatch(message);
    expect((body.error.details as { problems: { path: string }[] }).problems.map((p) => p.path)).toEqual([
      path,
    ]);
    expect(body.error.requestId).toBe(headers.get('x-request-id'));
  });

  it('answers 400 when from is not before to', async () => {
    const { status, body } = await getJson<ErrorBody>(
      t.app,
      `/v1/models/iris/records?from=${at(3)}&to=${at(3)}`,
    );
    expect(status).toBe(400);
    expect(body.error.message).toBe('from must be before to');
  });
});
