import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.js';
import { otlpProto } from '../../src/ingest/otlp.js';
import { storedRecords, storedRejections } from '../helpers.js';
import { configProblems, FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// POST /v1/logs: OTLP/HTTP log exports, JSON or protobuf, mapped into records; what does not map is
// counted and named in partialSuccess.

let t: TestApp;
afterEach(() => t.close());

function app(config: ConfigInput = {}): TestApp {
  t = makeTestApp(config);
  return t;
}

type Attr = { key: string; value: Record<string, unknown> };
const str = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const num = (key: string, v: number): Attr => ({
  key,
  value: Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v },
});
const kvlist = (o: Record<string, number | string | boolean>) => ({
  kvlistValue: {
    values: Object.entries(o).map(([key, v]) =>
      typeof v === 'string'
        ? str(key, v)
        : typeof v === 'boolean'
          ? { key, value: { boolValue: v } }
          : num(key, v),
    ),
  },
});
const nanos = (ms: number) => `${ms}000000`;

interface LogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  body?: Record<string, unknown>;
  attributes?: Attr[];
}

/** An ExportLogsServiceRequest in the JSON mapping: one resource, one scope. */
function request(records: LogRecord[], resource: Attr[] = [str('service.name', 'scorer')]) {
  return {
    resourceLogs: [
      {
        resource: { attributes: resource },
        scopeLogs: [{ scope: { name: 'scorer' }, logRecords: records }],
      },
    ],
  };
}

const inference = (id: string, extra: Attr[] = []): LogRecord => ({
  timeUnixNano: nanos(FIXED_NOW - 60_000),
  body: kvlist({ age: 41, plan: 'pro', churned_before: false }),
  attributes: [str('driftwatch.request_id', id), ...extra],
});

async function send(
  body: unknown,
  options: { encoding?: 'json' | 'protobuf'; gzip?: boolean; contentType?: string } = {},
) {
  const encoding = options.encoding ?? 'json';
  let bytes: Uint8Array =
    encoding === 'json'
      ? Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
      : body instanceof Uint8Array
        ? body
        : otlpProto.encodeRequest(body as Record<string, unknown>);
  if (options.gzip) bytes = gzipSync(bytes);
  const res = await t.app.request('/v1/logs', {
    method: 'POST',
    headers: {
      'content-type':
        options.contentType ?? (encoding === 'json' ? 'application/json' : 'application/x-protobuf'),
      ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
    },
    body: bytes,
  });
  const raw = new Uint8Array(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  const parsed: Record<string, unknown> = type.includes('protobuf')
    ? res.status === 200
      ? otlpProto.decodeResponse(raw)
      : otlpProto.decodeStatus(raw)
    : (JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, unknown>);
  return { status: res.status, type, body: parsed, headers: res.headers };
}

const MODEL = [str('driftwatch.model', 'churn')];

describe('mapping', () => {
  it('a model log becomes a record: attributes, key-value body as features, timeUnixNano as event time', async () => {
    app();
    const res = await send(
      request(
        [
          inference('r-1', [
            str('driftwatch.model_version', 'v7'),
            num('driftwatch.latency_ms', 12.5),
            { key: 'driftwatch.prediction', value: kvlist({ yes: 0.8, no: 0.2 }) },
            str('driftwatch.label', 'yes'),
          ]),
        ],
        [...MODEL, str('service.name', 'scorer')],
      ),
    );
    expect(res).toMatchObject({ status: 200, body: {} });
    const [record] = await storedRecords(t.app, 'churn');
    expect(record).toMatchObject({
      request_id: 'r-1',
      model_version: 'v7',
      timestamp: new Date(FIXED_NOW - 60_000).toISOString(),
      features: { age: 41, plan: 'pro', churned_before: false },
      prediction: { yes: 0.8, no: 0.2 },
      label: 'yes',
      latency_ms: 12.5,
    });
  });

  it('features from driftwatch.feature.* attributes, model on the record overriding the resource', async () => {
    app();
    const res = await send(
      request(
        [
          {
            observedTimeUnixNano: nanos(FIXED_NOW - 5_000),
            body: { stringValue: 'scored a customer' },
            attributes: [
              str('driftwatch.model', 'churn'),
              str('driftwatch.request_id', 'r-2'),
              num('driftwatch.feature.age', 30),
              str('driftwatch.feature.plan', 'free'),
              { key: 'driftwatch.prediction', value: { boolValue: true } },
            ],
          },
        ],
        [str('driftwatch.model', 'some-other-model')],
      ),
    );
    expect(res.status).toBe(200);
    expect(await storedRecords(t.app, 'churn')).toMatchObject([
      {
        request_id: 'r-2',
        // No timeUnixNano: the time the log was observed.
        timestamp: new Date(FIXED_NOW - 5_000).toISOString(),
        features: { age: 30, plan: 'free' },
        prediction: true,
      },
    ]);
  });

  it('protobuf and gzip, JSON and protobuf alike', async () => {
    app();
    const cases = [
      { encoding: 'json', gzip: true },
      { encoding: 'protobuf', gzip: false },
      { encoding: 'protobuf', gzip: true },
    ] as const;
    for (const [i, c] of cases.entries()) {
      const res = await send(request([inference(`enc-${i}`)], MODEL), c);
      expect(res.status, JSON.stringify(c)).toBe(200);
      expect(res.type).toContain(c.encoding === 'json' ? 'application/json' : 'application/x-protobuf');
      expect(res.body).toEqual({});
    }
    const records = await storedRecords(t.app, 'churn');
    expect(records.map((r) => r.request_id).sort()).toEqual(['enc-0', 'enc-1', 'enc-2']);
    for (const r of records) {
      expect(r.features).toEqual({ age: 41, plan: 'pro', churned_before: false });
      expect(r.timestamp).toBe(new Date(FIXED_NOW - 60_000).toISOString());
    }
  });

  it('JSON int64s as numbers and strings alike', async () => {
    app();
    const res = await send(
      request(
        [
          {
            timeUnixNano: (FIXED_NOW - 1000) * 1e6,
            body: { kvlistValue: { values: [{ key: 'n', value: { intValue: 5 } }] } },
            attributes: [
              str('driftwatch.request_id', 'int'),
              { key: 'driftwatch.latency_ms', value: { intValue: '9' } },
            ],
          } as unknown as LogRecord,
        ],
        MODEL,
      ),
    );
    expect(res.status).toBe(200);
    expect(await storedRecords(t.app, 'churn')).toMatchObject([
      { features: { n: 5 }, latency_ms: 9, timestamp: new Date(FIXED_NOW - 1000).toISOString() },
    ]);
  });

  it('prefixes are settings: sources.otlp.attributePrefix and featurePrefix', async () => {
    app({ sources: { otlp: { attributePrefix: 'ml.', featurePrefix: 'ml.input.' } } });
    const res = await send(
      request([
        {
          attributes: [str('ml.model', 'churn'), str('ml.request_id', 'p-1'), num('ml.input.age', 50)],
        },
        { attributes: [str('driftwatch.model', 'churn'), str('driftwatch.request_id', 'p-2')] },
      ]),
    );
    expect(res.body).toEqual({
      partialSuccess: {
        rejectedLogRecords: '1',
        errorMessage: 'log record 1: no ml.model attribute (not a model log)',
      },
    });
    expect(await storedRecords(t.app, 'churn')).toMatchObject([
      { request_id: 'p-1', features: { age: 50 }, timestamp: new Date(FIXED_NOW).toISOString() },
    ]);
  });

  it('a bad sources.otlp setting is refused at start, naming the key', () => {
    expect(
      configProblems({ env: {}, overrides: { 'sources.otlp.featurePrefix': 'driftwatch.' } }).join('\n'),
    ).toMatch(/sources\.otlp\.featurePrefix: featurePrefix must differ from attributePrefix/);
    expect(configProblems({ env: {}, overrides: { 'sources.otlp.attributePrefix': '' } }).join('\n')).toMatch(
      /sources\.otlp\.attributePrefix: must not be empty/,
    );
  });
});

describe('partial success', () => {
  const mixed = () =>
    request([
      { ...inference('ok-0'), attributes: [...MODEL, str('driftwatch.request_id', 'ok-0')] },
      { body: { stringValue: 'GET /healthz 200' }, attributes: [str('http.route', '/healthz')] },
      { ...inference('x'), attributes: [...MODEL] },
      {
        ...inference('bad-3'),
        attributes: [...MODEL, str('driftwatch.request_id', 'bad-3'), str('driftwatch.latency_ms', 'slow')],
      },
      { attributes: [...MODEL, str('driftwatch.request_id', 'bad-4'), str('driftwatch.modle', 'x')] },
      { body: { stringValue: 'hello' }, attributes: [...MODEL, str('driftwatch.request_id', 'bad-5')] },
    ]);

  for (const encoding of ['json', 'protobuf'] as const) {
    it(`counts and names every log record refused (${encoding})`, async () => {
      app();
      const res = await send(mixed(), { encoding });
      expect(res.status).toBe(200);
      const partial = res.body.partialSuccess as { rejectedLogRecords: string; errorMessage: string };
      expect(partial.rejectedLogRecords).toBe('5');
      const reasons = partial.errorMessage.split('; log record ');
      expect(reasons).toHaveLength(5);
      expect(partial.errorMessage).toMatch(
        /^log record 1: no driftwatch\.model attribute \(not a model log\)/,
      );
      expect(partial.errorMessage).toContain('log record 2: driftwatch.request_id: required');
      expect(partial.errorMessage).toContain('log record 3: driftwatch.latency_ms: expected number');
      expect(partial.errorMessage).toContain('log record 4: unknown attribute driftwatch.modle');
      expect(partial.errorMessage).toMatch(/log record 5: no features: the body is a string/);

      expect((await storedRecords(t.app, 'churn')).map((r) => r.request_id)).toEqual(['ok-0']);
      // Model logs that were refused are kept as rejections, with the log record as sent; other logs are not.
      const rejections = await storedRejections(t.app);
      expect(rejections.map((r) => r.index).sort()).toEqual([2, 3, 4, 5]);
      const bad3 = rejections.find((r) => r.index === 3);
      expect(bad3?.request_id).toBe('bad-3');
      expect(JSON.parse(bad3?.raw ?? '{}')).toMatchObject({ attributes: expect.any(Array) });
    });
  }

  it('a re-sent request stores nothing twice: duplicates are not rejections', async () => {
    app();
    const body = request([inference('d-1'), inference('d-2')], MODEL);
    expect((await send(body)).body).toEqual({});
    expect((await send(body, { encoding: 'protobuf' })).body).toEqual({});
    expect((await storedRecords(t.app, 'churn')).map((r) => r.request_id).sort()).toEqual(['d-1', 'd-2']);
  });

  it('counts received, accepted, duplicate and rejected log records in /metrics', async () => {
    app();
    await send(request([inference('m-1'), inference('m-2'), { attributes: [] }], MODEL));
    await send(request([inference('m-1'), { attributes: [] }]));
    const text = await (await t.app.request('/metrics')).text();
    const value = (line: string) => Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('driftwatch_otlp_log_records_received_total')).toBe(5);
    expect(value('driftwatch_otlp_log_records_total\\{outcome="accepted"\\}')).toBe(2);
    // The second m-1 has no model attribute this time (no resource): rejected, as is the empty one.
    expect(value('driftwatch_otlp_log_records_total\\{outcome="duplicate"\\}')).toBe(0);
    expect(value('driftwatch_otlp_log_records_total\\{outcome="rejected"\\}')).toBe(3);
    await send(request([inference('m-1')], MODEL));
    const again = await (await t.app.request('/metrics')).text();
    expect(again).toMatch(/^driftwatch_otlp_log_records_total\{outcome="duplicate"\} 1$/m);
  });
});

describe('refusals', () => {
  it('a body that is not an ExportLogsServiceRequest: 400 with a google.rpc.Status in its encoding', async () => {
    app();
    const proto = await send(Buffer.from([0x0a, 0xff, 0xff, 0xff]), { encoding: 'protobuf' });
    expect(proto.status).toBe(400);
    expect(proto.type).toContain('application/x-protobuf');
    expect(proto.body).toMatchObject({
      code: 3,
      message: expect.stringMatching(/not an OTLP ExportLogsServiceRequest/),
    });

    const json = await send('{"resourceLogs": [', {});
    expect(json.status).toBe(400);
    expect(json.body).toMatchObject({ code: 3, message: expect.stringMatching(/not valid JSON/) });
    expect(json.body.error).toMatchObject({ code: 'invalid_body' });

    const shape = await send({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: 'x' }] }] }] });
    expect(shape.status).toBe(400);
    expect(shape.body.message).toBe(
      'resourceLogs[0].scopeLogs[0].logRecords[0].attributes: expected an array',
    );

    expect((await send('{}', { contentType: 'text/plain' })).status).toBe(415);
    expect(await storedRejections(t.app)).toEqual([]);
  });

  it('the ingest body limit, before and after gzip', async () => {
    app({ ingest: { bodyLimit: 2048 } });
    const big = request(
      Array.from({ length: 40 }, (_, i) => inference(`big-${i}`)),
      MODEL,
    );
    const plain = await send(big, { encoding: 'protobuf' });
    expect(plain.status).toBe(413);
    expect(plain.body.message).toMatch(/ingest\.bodyLimit/);
    const zipped = await send(big, { gzip: true });
    expect(zipped.status).toBe(413);
    expect(zipped.body.message).toMatch(/decompressed body exceeds/);
  });

  it('beyond server.maxIngestInFlight: 503 with Retry-After, which exporters retry', async () => {
    app({ server: { maxIngestInFlight: 1 } });
    let reading!: () => void;
    const started = new Promise<void>((resolve) => {
      reading = resolve;
    });
    let finish!: () => void;
    const release = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const bytes = otlpProto.encodeRequest(request([inference('slow-1')], MODEL));
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        reading();
        if (sent) {
          await release;
          controller.close();
          return;
        }
        sent = true;
        controller.enqueue(bytes);
      },
    });
    const first = t.app.request('/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await started;
    const busy = await send(request([inference('fast-1')], MODEL), { encoding: 'protobuf' });
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(busy.body).toMatchObject({ code: 14, message: expect.stringMatching(/maxIngestInFlight/) });
    finish();
    expect((await first).status).toBe(200);
    expect((await storedRecords(t.app, 'churn')).map((r) => r.request_id)).toEqual(['slow-1']);
  });
});
