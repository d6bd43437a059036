import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import { readBody } from '../body-limit.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { parseJsonBody, parseQuery } from '../http.js';
import { compareShadow } from './compare.js';
import { assertSafeName } from './names.js';
import { fromOipRequest, oipMetadata, toOipResponse } from './oip.js';
import { predict, servedVersion } from './predict.js';
import type { ServingRuntime } from './runtime.js';
import {
  activateVersion,
  deleteVersion,
  listVersions,
  registerVersion,
  rollbackModel,
  setShadow,
} from './versions.js';

const noteBody = z.strictObject({ note: z.string().max(10_000).optional() });
const shadowBody = z.strictObject({ enabled: z.boolean() });
const registerQuery = z.strictObject({ activate: z.enum(['true', 'false']).optional() });
const compareQuery = z.strictObject({
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
});

/** An upload: `{"manifest": {…}, "model_base64": "…", "baseline_csv": "…"}` (JSON), within `limit` bytes. */
const uploadBody = z.strictObject({
  manifest: z.unknown(),
  model_base64: z.string().min(1),
  baseline_csv: z.string().min(1).optional(),
  note: z.string().max(10_000).optional(),
});

const MAX_UPLOAD = 256 * 1024 * 1024;

export function servingRoutes(runtime: ServingRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const param = (v: string, kind: 'model' | 'version') => {
    assertSafeName(kind, v);
    return v;
  };
  // Every answer carries the version that produced it.
  const answer = (c: Context<AppEnv>, version: string) => {
    c.header('x-model-version', version);
  };

  app.post('/v1/models/:name/predict', allow('ingest'), async (c) => {
    const model = param(c.req.param('name'), 'model');
    c.set('model', model);
    const body = await parseJsonBody(c, z.unknown());
    const result = await predict(c.get('deps'), runtime, { model, body, requestId: c.get('requestId') });
    answer(c, result.model_version);
    c.get('log').info(
      { model, model_version: result.model_version, instances: result.predictions.length },
      'predict',
    );
    return c.json(result);
  });

  app.get('/v1/models/:name/versions', canRead(), async (c) => {
    const model = param(c.req.param('name'), 'model');
    return c.json(await listVersions(c.get('deps'), model));
  });

  app.post('/v1/models/:name/versions', allow('admin'), async (c) => {
    const model = param(c.req.param('name'), 'model');
    const q = parseQuery(c, registerQuery);
    const text = await readBody(c.req.raw, { bytes: MAX_UPLOAD, name: 'model upload limit (256 MiB)' });
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ApiError('invalid_body', 'body must be valid JSON: {"manifest": {…}, "model_base64": "…"}');
    }
    const parsed = uploadBody.safeParse(raw);
    if (!parsed.success) {
      throw new ApiError(
        'invalid_body',
        parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
      );
    }
    const onnx = Buffer.from(parsed.data.model_base64, 'base64');
    const view = await registerVersion(c.get('deps'), {
      model,
      manifest: parsed.data.manifest,
      onnx,
      baselineCsv: parsed.data.baseline_csv ? Buffer.from(parsed.data.baseline_csv) : undefined,
      actor: c.get('actor').name,
      activate: q.activate === undefined ? undefined : q.activate === 'true',
      note: parsed.data.note,
    });
    await runtime.sync(true);
    return c.json(view, 201);
  });

  app.post('/v1/models/:name/versions/:v/activate', allow('admin'), async (c) => {
    const model = param(c.req.param('name'), 'model');
    const version = param(c.req.param('v'), 'version');
    const body = await parseJsonBody(c, noteBody, { emptyAsObject: true });
    const result = await activateVersion(c.get('deps'), model, version, c.get('actor').name, body.note);
    await runtime.sync(true);
    return c.json(result);
  });

  app.post('/v1/models/:name/rollback', allow('admin'), async (c) => {
    const model = param(c.req.param('name'), 'model');
    const body = await parseJsonBody(c, noteBody, { emptyAsObject: true });
    const result = await rollbackModel(c.get('deps'), model, c.get('actor').name, body.note);
    await runtime.sync(true);
    return c.json(result);
  });

  app.post('/v1/models/:name/versions/:v/shadow', allow('admin'), async (c) => {
    const model = param(c.req.param('name'), 'model');
    const version = param(c.req.param('v'), 'version');
    const body = await parseJsonBody(c, shadowBody);
    const view = await setShadow(c.get('deps'), model, version, body.enabled, c.get('actor'));
    await runtime.sync(true);
    return c.json(view);
  });

  app.delete('/v1/models/:name/versions/:v', allow('admin'), async (c) => {
    const model = param(c.req.param('name'), 'model');
    const version = param(c.req.param('v'), 'version');
    await deleteVersion(c.get('deps'), model, version, c.get('actor'));
    await runtime.sync(true);
    return c.body(null, 204);
  });

  app.get('/v1/models/:name/versions/:v/compare', canRead(), async (c) => {
    const model = param(c.req.param('name'), 'model');
    const version = param(c.req.param('v'), 'version');
    const q = parseQuery(c, compareQuery);
    await runtime.flushShadowStats();
    return c.json(await compareShadow(c.get('deps'), model, version, q));
  });

  // ---- Open Inference Protocol v2 ----
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', (c) => {
    const ready = runtime.unavailable.length === 0 && runtime.list().every((v) => v.runner.status().ready);
    return c.json(
      { ready, ...(runtime.unavailable.length ? { unavailable: runtime.unavailable } : {}) },
      ready ? 200 : 503,
    );
  });
  app.get('/v2/models/:name/ready', allow('ingest', 'reviewer'), (c) => {
    const v = servedVersion(runtime, param(c.req.param('name') ?? '', 'model'));
    const ready = v.runner.status().ready;
    return c.json({ name: v.model, ready }, ready ? 200 : 503);
  });
  for (const path of ['/v2/models/:name', '/v2/models/:name/versions/:v']) {
    app.get(path, allow('ingest', 'reviewer'), async (c) => {
      const model = param(c.req.param('name') ?? '', 'model');
      const wanted = c.req.param('v');
      const v = servedVersion(runtime, model, wanted === undefined ? undefined : param(wanted, 'version'));
      const versions = (await listVersions(c.get('deps'), model)).versions.map((x) => x.version);
      return c.json(oipMetadata(v, versions));
    });
    app.post(`${path}/infer`, allow('ingest'), async (c) => {
      const model = param(c.req.param('name') ?? '', 'model');
      c.set('model', model);
      const wanted = c.req.param('v');
      const version = wanted === undefined ? undefined : param(wanted, 'version');
      const v = servedVersion(runtime, model, version);
      const raw = await parseJsonBody(c, z.unknown());
      const request = fromOipRequest(v.manifest, raw);
      const id = request.id ?? c.get('requestId');
      // Monitoring logs under the server's request id: clients often reuse inference ids ("1"), which
      // would make every later prediction a duplicate. The client's id is echoed in the answer.
      const result = await predict(c.get('deps'), runtime, {
        model,
        version,
        body: { instances: request.instances },
        requestId: c.get('requestId'),
      });
      answer(c, result.model_version);
      return c.json(toOipResponse(v.manifest, result, id));
    });
  }
  return app;
}
