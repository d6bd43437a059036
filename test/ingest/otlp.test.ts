import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredRecordBody } from '../helpers.js';
import { killAll, type ServerProcess, startServerProcess } from '../server/process.js';
import { tempDir } from '../support.js';

// The OpenTelemetry JS SDK's own OTLP log exporters (http/json, then http/protobuf) sending to a real
// driftwatch process, and the records read back through the API: each inference exactly once.

type ExportResult = Parameters<Parameters<LogRecordExporter['export']>[1]>[0];

const INGEST = 'ingest-token-0123456789';
const READ = 'reviewer-token-0123456789';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await killAll();
  cleanup();
});

/** Passes every export through, keeping what the exporter reported back. */
class Recording implements LogRecordExporter {
  readonly results: ExportResult[] = [];
  constructor(private readonly inner: LogRecordExporter) {}
  export(logs: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.inner.export(logs, (result) => {
      this.results.push(result);
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
}

type Exporter = 'http/json' | 'http/protobuf';

/** A LoggerProvider as a scoring service would set one up, exporting to driftwatch. */
function provider(server: ServerProcess, kind: Exporter) {
  const options = {
    url: server.url('/v1/logs'),
    headers: { authorization: `Bearer ${INGEST}` },
  };
  const exporter = new Recording(
    kind === 'http/json' ? new JsonLogExporter(options) : new ProtoLogExporter(options),
  );
  const logs = new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': 'churn-scorer',
      'driftwatch.model': 'churn',
      'driftwatch.model_version': kind === 'http/json' ? 'v1' : 'v2',
    }),
    processors: [new BatchLogRecordProcessor({ exporter })],
  });
  return { logs, exporter, logger: logs.getLogger('scorer') };
}

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

async function records(server: ServerProcess): Promise<StoredRecordBody[]> {
  const res = await fetch(server.url('/v1/models/churn/records?limit=1000'), {
    headers: { authorization: `Bearer ${READ}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: StoredRecordBody[] }).records;
}

async function counter(server: ServerProcess, sample: string): Promise<number> {
  const text = await (
    await fetch(server.url('/metrics'), { headers: { authorization: `Bearer ${READ}` } })
  ).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

describe('OpenTelemetry SDK → POST /v1/logs', () => {
  it('both exporters deliver every inference once; a re-export is a duplicate; other logs are refused', {
    timeout: 60_000,
  }, async () => {
    const config = join(dir, 'driftwatch.json');
    writeFileSync(
      config,
      JSON.stringify({
        auth: {
          tokens: [
            { name: 'scorer', role: 'ingest', token: INGEST },
            { name: 'ops', role: 'admin', token: READ },
          ],
        },
      }),
    );
    const server = await startServerProcess(join(dir, 'driftwatch.db'), { DRIFTWATCH_CONFIG: config });

    const emitted: Record<string, { exporter: Exporter; time: number; age: number }> = {};
    for (const [n, kind] of (['http/json', 'http/protobuf'] as const).entries()) {
      const { logs, exporter, logger } = provider(server, kind);
      for (let i = 0; i < 3; i++) {
        const id = `${kind}-${i}`;
        const time = T0 + n * 60_000 + i * 1000;
        emitted[id] = { exporter: kind, time, age: 30 + i };
        logger.emit({
          timestamp: new Date(time),
          body: { age: 30 + i, plan: i === 0 ? 'free' : 'pro' },
          attributes: {
            'driftwatch.request_id': id,
            'driftwatch.prediction': i % 2 === 0 ? 'stay' : 'churn',
            'driftwatch.latency_ms': 4 + i,
          },
        });
      }
      // A log line of the same service that is not an inference: refused (it has no request id).
      logger.emit({ body: 'cache warmed' });
      await logs.forceFlush();
      await logs.shutdown();
      expect(exporter.results.map((r) => r.code)).toEqual([0]); // ExportResultCode.SUCCESS
    }

    // The first json inference logged again (a retry of the scoring call): the same request id.
    const again = provider(server, 'http/protobuf');
    again.logger.emit({
      timestamp: new Date(T0),
      body: { age: 30, plan: 'free' },
      attributes: { 'driftwatch.request_id': 'http/json-0' },
    });
    await again.logs.forceFlush();
    await again.logs.shutdown();
    expect(again.exporter.results.map((r) => r.code)).toEqual([0]);

    const stored = await records(server);
    expect(stored.map((r) => r.request_id).sort()).toEqual(Object.keys(emitted).sort());
    for (const r of stored) {
      const want = emitted[r.request_id];
      expect(r, r.request_id).toMatchObject({
        model_version: want?.exporter === 'http/json' ? 'v1' : 'v2',
        timestamp: new Date(want?.time ?? 0).toISOString(),
        features: { age: want?.age },
      });
    }
    expect(stored.find((r) => r.request_id === 'http/protobuf-1')).toMatchObject({
      prediction: 'churn',
      latency_ms: 5,
      features: { age: 31, plan: 'pro' },
    });

    expect(await counter(server, 'driftwatch_otlp_log_records_received_total')).toBe(9);
    expect(await counter(server, 'driftwatch_otlp_log_records_total{outcome="accepted"}')).toBe(6);
    expect(await counter(server, 'driftwatch_otlp_log_records_total{outcome="duplicate"}')).toBe(1);
    expect(await counter(server, 'driftwatch_otlp_log_records_total{outcome="rejected"}')).toBe(2);
  });
});
