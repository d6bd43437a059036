import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { checkDeclaredLength } from '../ingest/body.js';
import { MODEL_NAME, MODEL_NAME_RULE } from '../ingest/record.js';
import { route } from '../openapi/index.js';
import { activateBaseline, baselineDetail, createBaseline, listBaselines } from './service.js';
import { jsonUploadLimit, trainingFormat, uploadLimit } from './sources.js';

const list = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .optional()
  .describe('Comma-separated column names');
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

const createQuery = z.strictObject({
  model_version: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('The version the baseline is for; none: every version.'),
  activate: bool.optional().describe('Make it the active baseline now (default: only when there is none).'),
  prediction: z.string().min(1).optional().describe('The column holding the prediction.'),
  label: z.string().min(1).optional().describe('The column holding the label.'),
  categorical: list,
  numeric: list,
  exclude: list,
  top_k: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('Categories kept per categorical column.'),
  grid_cells: z.coerce.number().int().min(10).max(100_000).optional().describe('Cells of the numeric grid.'),
  code_commit: z.string().max(256).optional(),
  notes: z.string().max(10_000).optional(),
});

const includeQuery = z.object({
  include: z.string().optional().describe('"grid" adds the numeric grids; other values are ignored.'),
});

const idParam = (v: string) => {
  const id = Number(v);
  if (!Number.isInteger(id) || id < 1)
    throw new ApiError('bad_request', `baseline id must be a positive integer, got "${v}"`);
  return id;
};

const model = {
  description: `The model name; it ${MODEL_NAME_RULE}, at most 256 characters.`,
};
const baselineId = {
  description: 'The baseline id, a positive integer.',
  type: 'integer' as const,
  parse: idParam,
};

export function baselineRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'post',
      path: '/v1/models/:model/baselines',
      summary: 'Profile training data into a new baseline',
      description:
        'The body is the training set, streamed (CSV with a header row, NDJSON or a JSON array of objects). Columns are profiled as the query says.',
      tags: ['baselines'],
      roles: [],
      params: {
        model: {
          ...model,
          parse: (m: string) => {
            if (!MODEL_NAME.test(m) || m.length > 256) {
              throw new ApiError('bad_request', `model name ${MODEL_NAME_RULE}`, {
                problems: [{ path: 'model', message: MODEL_NAME_RULE }],
              });
            }
            return m;
          },
        },
      },
      logModel: 'model',
      query: createQuery,
      body: {
        description:
          'The training data, one row per example (baselines.maxBytes; JSON: baselines.maxJsonBytes).',
        content: {
          'text/csv': { description: 'A header row, then one row per example.' },
          'application/x-ndjson': { schema: { type: 'object' } },
          'application/json': { schema: { type: 'array', items: { type: 'object' } } },
        },
      },
      responses: {
        201: 'The baseline (and how many stored records were re-aggregated against it).',
        415: 'A content type other than text/csv, application/x-ndjson or application/json.',
        422: 'The data cannot be profiled (no rows, a column both numeric and categorical…).',
      },
    },
    async (c, { params, query: q }) => {
      const model = params.model;
      const format = trainingFormat(c.req.header('content-type'));
      const limits = c.get('deps').config.baselines;
      const bytes = uploadLimit(limits.maxBytes);
      checkDeclaredLength(c.req.raw, bytes);
      if (format === 'json') checkDeclaredLength(c.req.raw, jsonUploadLimit(limits.maxJsonBytes));
      if (!c.req.raw.body)
        throw new ApiError('invalid_body', 'training data is required in the request body');
      const source = Readable.fromWeb(c.req.raw.body as NodeReadableStream<Uint8Array>);
      const result = await createBaseline(c.get('deps'), {
        model,
        modelVersion: q.model_version ?? '',
        source,
        format,
        profile: {
          prediction: q.prediction,
          label: q.label,
          categorical: q.categorical,
          numeric: q.numeric,
          exclude: q.exclude,
          ...(q.top_k === undefined ? {} : { topK: q.top_k }),
          ...(q.grid_cells === undefined ? {} : { gridCells: q.grid_cells }),
        },
        codeCommit: q.code_commit,
        notes: q.notes,
        activate: q.activate,
        createdBy: c.get('actor').name,
        limits: { bytes, rows: limits },
      });
      return c.json({ ...result.baseline, reaggregated_records: result.reaggregated }, 201);
    },
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/baselines',
      summary: "A model's baselines",
      tags: ['baselines'],
      roles: ['reviewer'],
      params: { model },
      responses: { 200: 'The baselines, newest first, the active one marked.' },
    },
    async (c, { params }) => c.json({ baselines: await listBaselines(c.get('deps'), params.model) }),
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/baselines/:id',
      summary: 'One baseline with its column profiles (and the progress of a rebuild)',
      tags: ['baselines'],
      roles: ['reviewer'],
      params: { model, id: baselineId },
      query: includeQuery,
      responses: { 200: 'The baseline.', 404: 'No such baseline for this model.' },
    },
    async (c, { params, query }) =>
      c.json(await baselineDetail(c.get('deps'), params.model, params.id, query.include === 'grid')),
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/models/:model/baselines/:id/activate',
      summary: 'Make a baseline the active one',
      description: 'Stored records are re-aggregated against it: 202 while that goes on in the background.',
      tags: ['baselines'],
      roles: [],
      params: { model, id: baselineId },
      responses: {
        200: 'The activated baseline.',
        202: 'Activated; the rebuild goes on (progress on GET …/baselines/:id → rebuild).',
        404: 'No such baseline for this model.',
      },
    },
    async (c, { params }) => {
      const result = await activateBaseline(c.get('deps'), params.model, params.id, c.get('actor').name);
      // 202 while the rebuild goes on in the background (progress on GET …/baselines/:id → rebuild).
      return c.json(
        { ...result.baseline, reaggregated_records: result.reaggregated },
        result.baseline.rebuild ? 202 : 200,
      );
    },
  );

  return app;
}
