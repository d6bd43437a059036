import { Hono } from 'hono';
import { z } from 'zod';
import { readBodyBytes } from '../body-limit.js';
import type { AppEnv } from '../context.js';
import { errorBody } from '../errors.js';
import { jsonSchema, route } from '../openapi/index.js';
import { bodyFormat, parseJsonBatch, parseNdjsonBatch, readBody } from './body.js';
import {
  acceptInferenceEvent,
  CE_REQUEST,
  CE_RESPONSE,
  PendingFull,
  readInferenceEvent,
} from './cloudevents.js';
import { decodeLogs, exportResponse, ingestLogs, OTLP_FIELDS, otlpEncoding } from './otlp.js';
import { recordSchema } from './record.js';
import { ingestBatch, listRejections } from './service.js';

const rejectionsQuery = z.strictObject({
  model: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().positive().optional(),
});

const record = jsonSchema(recordSchema, 'input');
const outcomes = {
  200: 'Every record stored (or a duplicate of one stored): counts and the request id.',
  207: 'Some records stored, some rejected: each rejection names the record and field.',
  415: 'A content type other than JSON or NDJSON.',
  422: 'Records sent but none stored: all rejected.',
};

export function ingestRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'post',
      path: '/v1/ingest',
      summary: 'Log a batch of prediction records',
      description:
        'Each record is validated on its own: good ones are stored, bad ones rejected with their problems (also kept, GET /v1/ingest/rejections). A record whose (model, request_id) is stored already is a duplicate, not stored twice. Gzip with Content-Encoding: gzip.',
      tags: ['ingest'],
      roles: ['ingest'],
      body: {
        description: 'Records within ingest.bodyLimit bytes.',
        content: {
          'application/json': {
            schema: {
              oneOf: [
                { type: 'array', items: record },
                {
                  type: 'object',
                  properties: { records: { type: 'array', items: record } },
                  required: ['records'],
                  additionalProperties: false,
                },
              ],
            },
          },
          'application/x-ndjson': { schema: record, description: 'One record per line.' },
        },
      },
      responses: outcomes,
    },
    async (c) => {
      const deps = c.get('deps');
      const format = bodyFormat(c.req.header('content-type'));
      const text = await readBody(c.req.raw, {
        bytes: deps.config.ingest.bodyLimit,
        name: 'ingest body limit',
        advice: 'send smaller batches',
      });
      const batch = format === 'json' ? parseJsonBatch(text) : await parseNdjsonBatch(text);
      const result = await ingestBatch(deps, batch, c.get('requestId'));
      // 200: nothing rejected; 207: some stored, some rejected; 422: records sent but none stored, all rejected.
      const status = result.rejected.length === 0 ? 200 : result.accepted + result.duplicates > 0 ? 207 : 422;
      return c.json(result, status);
    },
  );

  // KServe's payload logger: request and response CloudEvents, joined by id into records.
  route(
    app,
    {
      method: 'post',
      path: '/v1/ingest/cloudevents',
      summary: "KServe payload logger's CloudEvents, joined into records",
      description:
        'Binary mode (Ce-* headers, the event data as body) or structured mode (application/cloudevents+json). The request and the response event of one inference share an id; once both have come, they become one record. The model is the inferenceservicename attribute, mapped by ingest.cloudEventsModels.',
      tags: ['ingest'],
      roles: ['ingest'],
      headers: [
        { name: 'ce-specversion', description: 'Binary mode: 1.x' },
        { name: 'ce-id', description: 'Binary mode: the inference id shared by request and response' },
        { name: 'ce-type', description: `Binary mode: ${CE_REQUEST} or ${CE_RESPONSE}` },
        { name: 'ce-source', description: 'Binary mode: the event source' },
        {
          name: 'ce-inferenceservicename',
          description: 'Binary mode: the InferenceService, naming the model',
        },
      ],
      body: {
        description: 'The request or response body KServe logged (v1 or Open Inference Protocol v2).',
        content: {
          'application/json': { schema: { type: 'object' }, description: 'Binary mode: the event data.' },
          'application/cloudevents+json': {
            schema: { type: 'object' },
            description: 'Structured mode: the whole event, data or data_base64 included.',
          },
        },
      },
      responses: {
        ...outcomes,
        200: 'The event completed a record (stored, duplicate or rejected as in POST /v1/ingest), or was ignored.',
        202: 'The first event of a pair: kept until its partner comes.',
        503: 'Too many half pairs waiting (with Retry-After).',
      },
    },
    async (c) => {
      const deps = c.get('deps');
      const text = await readBody(c.req.raw, {
        bytes: deps.config.ingest.bodyLimit,
        name: 'ingest body limit (ingest.bodyLimit)',
      });
      const event = readInferenceEvent(
        (name) => c.req.header(name),
        text,
        deps.config.ingest.cloudEventsModels,
      );
      c.set('model', event.model);
      try {
        const outcome = await acceptInferenceEvent(deps, event, c.get('requestId'));
        if (outcome.status !== 'joined') return c.json(outcome, outcome.status === 'pending' ? 202 : 200);
        const status =
          outcome.rejected.length === 0 ? 200 : outcome.accepted + outcome.duplicates > 0 ? 207 : 422;
        return c.json(outcome, status);
      } catch (err) {
        if (!(err instanceof PendingFull)) throw err;
        return c.json(errorBody(err, c.get('requestId')), 503, { 'retry-after': String(err.retryAfterS) });
      }
    },
  );

  // OpenTelemetry logs: OTLP/HTTP log exports whose records carry model inferences.
  route(
    app,
    {
      method: 'post',
      path: '/v1/logs',
      summary: 'OpenTelemetry log records (OTLP/HTTP), mapped into records',
      description: `An OTLP ExportLogsServiceRequest, protobuf or JSON, gzip with Content-Encoding: gzip. A log record is a model log when it (or its resource) has the attribute driftwatch.model; ${OTLP_FIELDS.filter(
        (f) => f !== 'model',
      )
        .map((f) => `driftwatch.${f}`)
        .join(
          ', ',
        )} fill the record's fields, the features are a key-value map body or driftwatch.feature.<name> attributes, and the record's timeUnixNano (else observedTimeUnixNano) is the event time. The prefixes are sources.otlp.attributePrefix and featurePrefix. Records are stored as by POST /v1/ingest (a request id stored already is a duplicate); log records that are not model logs or that are refused are counted in partialSuccess.rejectedLogRecords, each named in errorMessage. Errors are a google.rpc.Status in the request's encoding (in JSON: code and message beside the error envelope).`,
      tags: ['ingest'],
      roles: ['ingest'],
      body: {
        description: 'An ExportLogsServiceRequest within ingest.bodyLimit bytes (as sent and decompressed).',
        content: {
          'application/x-protobuf': {
            description: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
          },
          'application/json': {
            schema: {
              type: 'object',
              properties: { resourceLogs: { type: 'array', items: { type: 'object' } } },
            },
            description: 'OTLP/JSON: the protobuf JSON mapping with lowerCamelCase names, ids in hex.',
          },
        },
      },
      responses: {
        200: "ExportLogsServiceResponse in the request's encoding: {} when every log record was stored (or a duplicate), else partialSuccess {rejectedLogRecords, errorMessage}.",
        400: 'A body that is not an ExportLogsServiceRequest (not retried by exporters).',
        413: 'The body exceeds ingest.bodyLimit.',
        415: 'A content type other than application/x-protobuf or application/json.',
        503: 'Too many ingest requests in flight (with Retry-After; exporters retry).',
      },
    },
    async (c) => {
      const deps = c.get('deps');
      const encoding = otlpEncoding(c.req.header('content-type'));
      const body = await readBodyBytes(c.req.raw, {
        bytes: deps.config.ingest.bodyLimit,
        name: 'ingest body limit (ingest.bodyLimit)',
        advice: 'lower the exporter batch size',
      });
      const outcome = await ingestLogs(deps, decodeLogs(body, encoding), c.get('requestId'));
      return exportResponse(outcome, encoding);
    },
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/ingest/rejections',
      summary: 'Rejected records, newest first, with their problems',
      tags: ['ingest'],
      roles: ['reviewer'],
      query: rejectionsQuery,
      responses: { 200: 'The rejections; page on with before=<the last id>.' },
    },
    async (c, { query }) => c.json({ rejections: await listRejections(c.get('deps'), query) }),
  );

  return app;
}
