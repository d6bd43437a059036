import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import { CE_REQUEST, CE_RESPONSE, runKserveJoinTick } from '../../src/ingest/cloudevents.js';
import { createJobs } from '../../src/jobs/index.js';
import { type ErrorBody, rowCount, storedRecords, storedRejections } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// KServe's payload logger: each inference arrives as a request and a response CloudEvent with one id.

const MODEL = 'sklearn-iris';
const IRIS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

let t: TestApp;
afterEach(() => t.close());

function app(config: ConfigInput = {}): TestApp {
  t = makeTestApp({ models: { [MODEL]: { featureNames: IRIS } }, ...config });
  return t;
}

type Kind = 'request' | 'response';

/** A binary-mode CloudEvent as KServe's logger sends it. */
async function binary(
  kind: Kind,
  id: string,
  data: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await t.app.request('/v1/ingest/cloudevents', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': kind === 'request' ? CE_REQUEST : CE_RESPONSE,
      'ce-source': `http://localhost:9081/`,
      'ce-inferenceservicename': MODEL,
      'ce-namespace': 'default',
      'ce-component': 'predictor',
      'ce-endpoint': 'default',
      ...headers,
    },
    body: typeof data === 'string' ? data : JSON.stringify(data),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function structured(event: Record<string, unknown>, contentType = 'application/cloudevents+json') {
  const res = await t.app.request('/v1/ingest/cloudevents', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: JSON.stringify(event),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const pending = () => t.sql<{ event_id: string; kind: string }>('SELECT event_id, kind FROM pending_events');
const byId = async () =>
  Object.fromEntries((await storedRecords(t.app, MODEL)).map((r) => [r.request_id, r]));

describe('binary mode', () => {
  it('joins a request and its response, in order, into one record', async () => {
    app();
    const req = await binary('request', 'ev-1', { instances: [[6.8, 2.8, 4.8, 1.4]] });
    expect(req.status).toBe(202);
    expect(req.body).toMatchObject({ status: 'pending', kind: 'request', model: MODEL, id: 'ev-1' });
    expect(await pending()).toEqual([{ event_id: 'ev-1', kind: 'request' }]);

    t.setNow(FIXED_NOW + 25);
    const res = await binary('response', 'ev-1', { predictions: [1] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'joined', accepted: 1, duplicates: 0, rejected: [] });
    expect(await pending()).toEqual([]);

    const [record] = await storedRecords(t.app, MODEL);
    expect(record).toMatchObject({
      request_id: 'ev-1',
      timestamp: new Date(FIXED_NOW).toISOString(),
      features: { sepal_length: 6.8, sepal_width: 2.8, petal_length: 4.8, petal_width: 1.4 },
      prediction: 1,
      latency_ms: 25,
      tags: {
        source: 'http://localhost:9081/',
        namespace: 'default',
        component: 'predictor',
        endpoint: 'default',
      },
    });
    // Aggregated like any ingest: the model appears with its count.
    expect(await rowCount(t, 'model_versions')).toBe(1);
  });

  it('joins a response that arrives before its request', async () => {
    app();
    expect((await binary('response', 'ev-2', { predictions: [2] })).status).toBe(202);
    expect(await pending()).toEqual([{ event_id: 'ev-2', kind: 'response' }]);
    t.setNow(FIXED_NOW + 40);
    const req = await binary('request', 'ev-2', { instances: [[7.7, 3.0, 6.1, 2.3]] });
    expect(req.status).toBe(200);
    expect(req.body).toMatchObject({ status: 'joined', accepted: 1 });
    const records = await byId();
    expect(records['ev-2']).toMatchObject({ prediction: 2, features: { petal_width: 2.3 } });
    // Receipt order says nothing about the inference's latency here.
    expect(records['ev-2']?.latency_ms).toBeNull();
    expect(await pending()).toEqual([]);
  });

  it('maps the service name through ingest.cloudEventsModels and takes Ce-Time as the event time', async () => {
    app({
      ingest: { cloudEventsModels: { [MODEL]: 'iris-prod' } },
      models: { 'iris-prod': { featureNames: IRIS } },
    });
    const time = '2026-11-24T11:59:00Z';
    await binary('request', 'ev-t', { instances: [[1, 2, 3, 4]] }, { 'ce-time': time });
    await binary('response', 'ev-t', { predictions: [0] });
    const [record] = await storedRecords(t.app, 'iris-prod');
    expect(record).toMatchObject({
      request_id: 'ev-t',
      timestamp: new Date(time).toISOString(),
      prediction: 0,
    });
  });
});

describe('structured mode', () => {
  it('reads attributes and data from one application/cloudevents+json object', async () => {
    app();
    const base = {
      specversion: '1.0',
      id: 'st-1',
      source: 'http://localhost:9081/',
      inferenceservicename: MODEL,
      namespace: 'ml',
      time: '2026-11-24T11:30:00.500Z',
    };
    const a = await structured({
      ...base,
      type: CE_REQUEST,
      data: { instances: [{ age: 42, plan: 'pro' }] },
    });
    expect(a.status).toBe(202);
    const b = await structured({ ...base, type: CE_RESPONSE, data: { predictions: [0.81] } });
    expect(b.status).toBe(200);
    const [record] = await storedRecords(t.app, MODEL);
    expect(record).toMatchObject({
      request_id: 'st-1',
      timestamp: '2026-11-24T11:30:00.500Z',
      features: { age: 42, plan: 'pro' },
      prediction: 0.81,
      tags: { namespace: 'ml' },
    });
  });
});

describe('bodies', () => {
  it('names V1 dict instances by their own keys, one record per instance with <id>#<i>', async () => {
    app();
    await binary('request', 'dict', {
      instances: [
        { age: 30, plan: 'free' },
        { age: 51, plan: 'pro' },
      ],
    });
    await binary('response', 'dict', {
      predictions: [
        [0.9, 0.1],
        [0.2, 0.8],
      ],
    });
    const records = await byId();
    expect(Object.keys(records).sort()).toEqual(['dict#0', 'dict#1']);
    expect(records['dict#0']).toMatchObject({
      features: { age: 30, plan: 'free' },
      prediction: { 0: 0.9, 1: 0.1 },
    });
    expect(records['dict#1']).toMatchObject({
      features: { age: 51, plan: 'pro' },
      prediction: { 0: 0.2, 1: 0.8 },
    });
  });

  it('turns a batch of 3 list instances into 3 records with the configured names', async () => {
    app();
    await binary('request', 'b3', {
      instances: [
        [5.1, 3.5, 1.4, 0.2],
        [6.2, 2.9, 4.3, 1.3],
        [7.7, 3.8, 6.7, 2.2],
      ],
    });
    const res = await binary('response', 'b3', { predictions: [0, 1, 2] });
    expect(res.body).toMatchObject({ status: 'joined', accepted: 3 });
    const records = await byId();
    expect(Object.keys(records).sort()).toEqual(['b3#0', 'b3#1', 'b3#2']);
    expect(records['b3#2']).toMatchObject({
      features: { sepal_length: 7.7, sepal_width: 3.8, petal_length: 6.7, petal_width: 2.2 },
      prediction: 2,
    });
  });

  it('reads Open Inference Protocol inputs: [N] and [N, 1] tensors by name, [N, F] split by the configured names', async () => {
    app({ models: { mixed: { featureNames: ['a', 'b'] } } });
    const headers = { 'ce-inferenceservicename': 'mixed' };
    const req = await binary(
      'request',
      'v2',
      {
        id: 'inner',
        inputs: [
          { name: 'pair', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
          { name: 'plan', shape: [2, 1], datatype: 'BYTES', data: [['free'], ['pro']] },
          { name: 'age', shape: [2], datatype: 'INT64', data: [30, 51] },
        ],
      },
      headers,
    );
    expect(req.status).toBe(202);
    const res = await binary(
      'response',
      'v2',
      {
        model_name: 'mixed',
        outputs: [{ name: 'output-0', shape: [2, 2], datatype: 'FP32', data: [0.9, 0.1, 0.3, 0.7] }],
      },
      headers,
    );
    expect(res.body).toMatchObject({ status: 'joined', accepted: 2 });
    const records = Object.fromEntries((await storedRecords(t.app, 'mixed')).map((r) => [r.request_id, r]));
    expect(records['v2#0']).toMatchObject({
      features: { a: 1, b: 2, plan: 'free', age: 30 },
      prediction: { 0: 0.9, 1: 0.1 },
    });
    expect(records['v2#1']).toMatchObject({
      features: { a: 3, b: 4, plan: 'pro', age: 51 },
      prediction: { 0: 0.3, 1: 0.7 },
    });
  });

  it('takes a [N] output tensor as one prediction per instance', async () => {
    app();
    await binary('request', 'v2s', {
      inputs: [
        {
          name: 'input-0',
          shape: [2, 4],
          datatype: 'FP32',
          data: [
            [6.8, 2.8, 4.8, 1.4],
            [6.0, 3.4, 4.5, 1.6],
          ],
        },
      ],
    });
    await binary('response', 'v2s', {
      outputs: [{ name: 'output-0', shape: [2], datatype: 'INT32', data: [1, 1] }],
    });
    const records = await byId();
    expect(records['v2s#1']).toMatchObject({
      features: { sepal_length: 6.0, petal_width: 1.6 },
      prediction: 1,
    });
  });
});

describe('duplicate delivery', () => {
  it('keeps one pending row for a half sent twice, and one record for a pair sent again', async () => {
    app();
    const body = { instances: [[1, 2, 3, 4]] };
    expect((await binary('request', 'dup', body)).status).toBe(202);
    const again = await binary('request', 'dup', body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'duplicate' });
    expect(await pending()).toHaveLength(1);

    expect((await binary('response', 'dup', { predictions: [1] })).body).toMatchObject({
      status: 'joined',
      accepted: 1,
    });
    // After the join, either half again is recognised by the stored record: no new pending row.
    expect((await binary('response', 'dup', { predictions: [1] })).body).toMatchObject({
      status: 'duplicate',
    });
    expect((await binary('request', 'dup', body)).body).toMatchObject({ status: 'duplicate' });
    expect(await pending()).toEqual([]);
    expect(await rowCount(t, 'records')).toBe(1);

    // A batch's records are <id>#<i>: re-sent halves are found by #0.
    await binary('request', 'dup3', { instances: [body.instances[0], body.instances[0]] });
    await binary('response', 'dup3', { predictions: [0, 1] });
    expect((await binary('request', 'dup3', { instances: [[1, 2, 3, 4]] })).body).toMatchObject({
      status: 'duplicate',
    });
    expect(await rowCount(t, 'records')).toBe(3);
  });
});

describe('lone halves (kserve-join job)', () => {
  it('registers the job', () => {
    app();
    expect(
      createJobs(t.deps)
        .status()
        .map((j) => j.name),
    ).toContain('kserve-join');
  });

  it('ingests a lone request without prediction once the join timeout passed', async () => {
    app();
    await binary('request', 'alone', {
      instances: [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
    });
    expect(await runKserveJoinTick(t.deps, FIXED_NOW + 59_999)).toEqual({ requests: 0, responses: 0 });
    expect(await pending()).toHaveLength(1);
    expect(await runKserveJoinTick(t.deps, FIXED_NOW + 60_000)).toEqual({ requests: 1, responses: 0 });
    expect(await pending()).toEqual([]);
    const records = await byId();
    expect(Object.keys(records).sort()).toEqual(['alone#0', 'alone#1']);
    expect(records['alone#1']).toMatchObject({
      features: { sepal_length: 5 },
      prediction: null,
      latency_ms: null,
    });
    // The late response is then a duplicate, not a new pending half.
    expect((await binary('response', 'alone', { predictions: [0, 1] })).body).toMatchObject({
      status: 'duplicate',
    });
    expect(await runKserveJoinTick(t.deps, FIXED_NOW + 120_000)).toEqual({ requests: 0, responses: 0 });
  });

  it('keeps a lone response as a rejection saying why, after the configured timeout', async () => {
    app({ ingest: { cloudEventsJoinTimeout: '5s' } });
    await binary('response', 'orphan', { predictions: [1] });
    expect(await runKserveJoinTick(t.deps, FIXED_NOW + 4_000)).toEqual({ requests: 0, responses: 0 });
    expect(await runKserveJoinTick(t.deps, FIXED_NOW + 5_000)).toEqual({ requests: 0, responses: 1 });
    expect(await pending()).toEqual([]);
    expect(await rowCount(t, 'records')).toBe(0);
    const [rejection] = await storedRejections(t.app, `model=${MODEL}`);
    expect(rejection).toMatchObject({ model: MODEL, request_id: 'orphan', raw: '{"predictions":[1]}' });
    expect(rejection?.errors[0]?.message).toMatch(
      /response without its request.*5000 ms.*cloudEventsJoinTimeout/,
    );
  });
});

describe('bounds', () => {
  it('refuses new halves with 503 and Retry-After once cloudEventsMaxPending wait, but still joins', async () => {
    app({ ingest: { cloudEventsMaxPending: 2 } });
    const body = { instances: [[1, 2, 3, 4]] };
    expect((await binary('request', 'p1', body)).status).toBe(202);
    expect((await binary('request', 'p2', body)).status).toBe(202);
    const full = await binary('request', 'p3', body);
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('60');
    expect((full.body as unknown as ErrorBody).error).toMatchObject({ code: 'unavailable' });
    expect((full.body as unknown as ErrorBody).error.message).toMatch(/cloudEventsMaxPending/);
    expect(await pending()).toHaveLength(2);
    // A half whose other half waits frees a row instead of taking one.
    expect((await binary('response', 'p1', { predictions: [1] })).status).toBe(200);
    expect((await binary('request', 'p3', body)).status).toBe(202);
  });
});

describe('bad events', () => {
  const problemOf = (body: Record<string, unknown>) => (body as unknown as ErrorBody).error;

  it('answers 400 for what is not a CloudEvent, naming the header', async () => {
    app();
    const res = await t.app.request('/v1/ingest/cloudevents', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [[1, 2, 3, 4]] }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.message).toMatch(/not a CloudEvent/);
    expect(body.error.details).toEqual({ problems: [{ path: 'Ce-Type', message: 'header missing' }] });
  });

  it('answers 400 for bad JSON and missing required attributes', async () => {
    app();
    const bad = await binary('request', 'x', '{"instances": [1,}');
    expect(bad.status).toBe(400);
    expect(problemOf(bad.body)).toMatchObject({ code: 'invalid_body', details: { line: 1, column: 18 } });

    const noService = await binary(
      'request',
      'x',
      { instances: [[1, 2, 3, 4]] },
      { 'ce-inferenceservicename': '' },
    );
    expect(noService.status).toBe(400);
    expect(problemOf(noService.body).message).toMatch(/^Ce-Inferenceservicename: required/);

    const noId = await structured({ specversion: '1.0', type: CE_REQUEST, source: 's', data: {} });
    expect(noId.status).toBe(400);
    expect(problemOf(noId.body).details).toEqual({ problems: [{ path: 'id', message: 'required' }] });

    const notObject = await structured([1, 2] as unknown as Record<string, unknown>);
    expect(notObject.status).toBe(400);
  });

  it('answers 422 for an unknown Ce-Type, a bad time and unreadable bodies', async () => {
    app();
    const type = await binary(
      'request',
      'x',
      { instances: [[1, 2, 3, 4]] },
      { 'ce-type': 'com.example.other' },
    );
    expect(type.status).toBe(422);
    expect(problemOf(type.body).message).toMatch(/^Ce-Type: not a KServe inference event/);

    const time = await binary('request', 'x', { instances: [[1, 2, 3, 4]] }, { 'ce-time': 'yesterday' });
    expect(time.status).toBe(422);
    expect(problemOf(time.body).message).toMatch(/^Ce-Time:/);

    const unnamed = await binary(
      'request',
      'x',
      { instances: [[1, 2]] },
      { 'ce-inferenceservicename': 'nameless' },
    );
    expect(unnamed.status).toBe(422);
    expect(problemOf(unnamed.body).message).toMatch(/configure models\.nameless\.featureNames/);

    const width = await binary('request', 'x', { instances: [[1, 2]] });
    expect(problemOf(width.body).message).toMatch(
      /has 2 values but models\.sklearn-iris\.featureNames names 4/,
    );

    const shape = await binary('request', 'x', {
      inputs: [{ name: 'a', shape: [2], datatype: 'FP32', data: [1] }],
    });
    expect(shape.status).toBe(422);
    expect(problemOf(shape.body).message).toMatch(/^data\.inputs\[0\]\.data: expected 2 values/);

    const neither = await binary('response', 'x', { result: 1 });
    expect(neither.status).toBe(422);
    expect(problemOf(neither.body).message).toMatch(/^data: expected a V1 body/);

    const empty = await binary('request', 'x', '');
    expect(empty.status).toBe(422);

    const badName = await binary(
      'request',
      'x',
      { instances: [{ a: 1 }] },
      { 'ce-inferenceservicename': 'bad name' },
    );
    expect(badName.status).toBe(422);

    // Nothing of these was kept.
    expect(await pending()).toEqual([]);
    expect(await rowCount(t, 'records')).toBe(0);
  });
});

describe('concurrent halves', () => {
  it('joins every pair when request and response arrive at the same time', async () => {
    // The in-flight bound would answer most of them 503 (server.maxIngestInFlight).
    app({ server: { maxInFlight: 100, maxIngestInFlight: 100 } });
    const ids = Array.from({ length: 20 }, (_, i) => `c-${i}`);
    const answers = await Promise.all(
      ids.flatMap((id, i) => [
        binary('request', id, { instances: [[i, 1, 2, 3]] }),
        binary('response', id, { predictions: [i % 3] }),
      ]),
    );
    expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 202)).toEqual([]);
    expect(answers.filter((a) => a.body.status === 'joined')).toHaveLength(20);
    expect(await pending()).toEqual([]);
    const records = await byId();
    expect(Object.keys(records)).toHaveLength(20);
    for (const [i, id] of ids.entries()) {
      expect(records[id]).toMatchObject({ features: { sepal_length: i }, prediction: i % 3 });
    }
  });
});
