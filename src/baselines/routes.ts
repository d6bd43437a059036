import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { parseQuery } from '../http.js';
import { checkDeclaredLength } from '../ingest/body.js';
import { MODEL_NAME, MODEL_NAME_RULE } from '../ingest/record.js';
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
  .optional();
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

const createQuery = z.strictObject({
  model_version: z.string().min(1).max(256).optional(),
  activate: bool.optional(),
  prediction: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  categorical: list,
  numeric: list,
  exclude: list,
  top_k: z.coerce.number().int().min(1).max(10_000).optional(),
  grid_cells: z.coerce.number().int().min(10).max(100_000).optional(),
  code_commit: z.string().max(256).optional(),
  notes: z.string().max(10_000).optional(),
});

const idParam = (v: string) => {
  const id = Number(v);
  if (!Number.isInteger(id) || id < 1)
    throw new ApiError('bad_request', `baseline id must be a positive integer, got "${v}"`);
  return id;
};

export function baselineRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post('/v1/models/:model/baselines', allow(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    if (!MODEL_NAME.test(model) || model.length > 256) {
      throw new ApiError('bad_request', `model name ${MODEL_NAME_RULE}`, {
        problems: [{ path: 'model', message: MODEL_NAME_RULE }],
      });
    }
    const q = parseQuery(c, createQuery);
    const format = trainingFormat(c.req.header('content-type'));
    const limits = c.get('deps').config.baselines;
    const bytes = uploadLimit(limits.maxBytes);
    checkDeclaredLength(c.req.raw, bytes);
    if (format === 'json') checkDeclaredLength(c.req.raw, jsonUploadLimit(limits.maxJsonBytes));
    if (!c.req.raw.body) throw new ApiError('invalid_body', 'training data is required in the request body');
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
  });

  app.get('/v1/models/:model/baselines', canRead(), async (c) => {
    const model = c.req.param('model');
    return c.json({ baselines: await listBaselines(c.get('deps'), model) });
  });

  app.get('/v1/models/:model/baselines/:id', canRead(), async (c) => {
    const include = c.req.query('include');
    return c.json(
      await baselineDetail(
        c.get('deps'),
        c.req.param('model'),
        idParam(c.req.param('id')),
        include === 'grid',
      ),
    );
  });

  app.post('/v1/models/:model/baselines/:id/activate', allow(), async (c) => {
    const result = await activateBaseline(
      c.get('deps'),
      c.req.param('model'),
      idParam(c.req.param('id')),
      c.get('actor').name,
    );
    // 202 while the rebuild goes on in the background (progress on GET …/baselines/:id → rebuild).
    return c.json(
      { ...result.baseline, reaggregated_records: result.reaggregated },
      result.baseline.rebuild ? 202 : 200,
    );
  });

  return app;
}
