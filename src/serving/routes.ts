import { rmSync } from 'node:fs';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { checkDeclaredLength, readBody } from '../body-limit.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { parseJsonBody } from '../http.js';
import { jsonSchema } from '../openapi/document.js';
import { declarationsOf, type RouteDecl, route } from '../openapi/index.js';
import { compareShadow } from './compare.js';
import { multipartBoundary } from './multipart.js';
import { assertSafeName, SAFE_NAME_RULE } from './names.js';
import { fromOipRequest, oipMetadata, toOipResponse } from './oip.js';
import { predict, servedVersion } from './predict.js';
import { freshPrivateDir } from './private-files.js';
import type { ServingRuntime } from './runtime.js';
import { readMultipartUpload, UPLOAD_LIMIT, UploadSlots } from './upload.js';
import {
  activateVersion,
  checkManifest,
  deleteVersion,
  listVersions,
  type RegisterInput,
  registerVersion,
  rollbackModel,
  setShadow,
} from './versions.js';

// Uploads read at once: each may hold a 256 MiB model (a JSON upload in memory several times over).
const UPLOADS_IN_FLIGHT = 2;

const noteBody = z.strictObject({ note: z.string().max(10_000).optional() });
const shadowBody = z.strictObject({ enabled: z.boolean() });
const registerQuery = z.strictObject({
  activate: z.enum(['true', 'false']).optional().describe('Activate the new version at once.'),
});
const compareQuery = z.strictObject({
  from: z.coerce.number().int().optional().describe('Epoch milliseconds'),
  to: z.coerce.number().int().optional().describe('Epoch milliseconds'),
});

/** An upload: `{"manifest": {…}, "model_base64": "…", "baseline_csv": "…"}` (JSON), within `limit` bytes. */
const uploadBody = z.strictObject({
  manifest: z.unknown().describe('The model manifest: inputs, preprocessing, output, training data…'),
  model_base64: z.string().min(1).describe('The ONNX model, base64'),
  baseline_csv: z.string().min(1).optional().describe('Training data as CSV, profiled into the baseline'),
  note: z.string().max(10_000).optional(),
});

/** The JSON upload's reading: 256 MiB, and problems in its own words (not the generic JSON body's). */
async function readJsonUpload(c: Context<AppEnv>, schema: typeof uploadBody) {
  const text = await readBody(c.req.raw, UPLOAD_LIMIT);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApiError('invalid_body', 'body must be valid JSON: {"manifest": {…}, "model_base64": "…"}');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError(
      'invalid_body',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

const predictBody = z
  .unknown()
  .describe(
    'Exactly one of {"features": {name: value, …}} (one instance) or {"instances": [{…}, …]} (a batch), the features as the served version\'s manifest declares them.',
  );
const oipBody = z
  .unknown()
  .describe(
    'An Open Inference Protocol v2 inference request: {"id"?, "inputs": [{name, shape, datatype, data}, …]}.',
  );

const name = {
  description: `The model name; it ${SAFE_NAME_RULE}.`,
  parse: (v: string) => {
    assertSafeName('model', v);
    return v;
  },
};
const version = {
  description: `The model version; it ${SAFE_NAME_RULE}.`,
  parse: (v: string) => {
    assertSafeName('version', v);
    return v;
  },
};
const changed = { 200: "The model's versions after the change.", 404: 'No such model or version.' };
const served = { 'x-model-version': 'The version that answered.' };

export function servingRoutes(runtime: ServingRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Every answer carries the version that produced it.
  const answer = (c: Context<AppEnv>, version: string) => {
    c.header('x-model-version', version);
  };
  const common = { serving: true } as const;
  const uploads = new UploadSlots(UPLOADS_IN_FLIGHT);

  route(
    app,
    {
      ...common,
      method: 'post',
      path: '/v1/models/:name/predict',
      summary: "Score features with the model's active version (and its shadow, if any)",
      description:
        'Each prediction is logged for monitoring like an ingested record. Bounded by serving.maxInFlight.',
      tags: ['serving'],
      roles: ['ingest'],
      params: { name },
      logModel: 'name',
      body: { schema: predictBody },
      responses: {
        200: { description: 'The predictions and the version that made them.', headers: served },
        404: 'The model is not served here.',
        422: 'Features that do not fit the manifest, each named.',
        504: 'The model did not answer within serving.deadlineMs.',
      },
    },
    async (c, { params, body }) => {
      const model = params.name;
      const result = await predict(c.get('deps'), runtime, { model, body, requestId: c.get('requestId') });
      answer(c, result.model_version);
      c.get('log').info(
        { model, model_version: result.model_version, instances: result.predictions.length },
        'predict',
      );
      return c.json(result);
    },
  );

  route(
    app,
    {
      ...common,
      method: 'get',
      path: '/v1/models/:name/versions',
      summary: "A model's versions: active, shadow, history",
      tags: ['serving'],
      roles: ['reviewer'],
      params: { name },
      responses: { 200: 'The versions.' },
    },
    async (c, { params }) => c.json(await listVersions(c.get('deps'), params.name)),
  );

  route(
    app,
    {
      ...common,
      method: 'post',
      path: '/v1/models/:name/versions',
      summary: 'Register a model version: manifest, ONNX model and optionally its training data',
      description: `At most 256 MiB, and ${UPLOADS_IN_FLIGHT} uploads read at once (503 with Retry-After beyond). The multipart form is checked as it streams: the manifest part first (a bad manifest or an existing version is refused before the model is read), the model and training data written to a private temp file.`,
      tags: ['serving'],
      roles: ['admin'],
      params: { name },
      query: registerQuery,
      body: {
        description: 'The manifest, the ONNX model and optionally the training data (CSV).',
        content: {
          'multipart/form-data': {
            description:
              'Parts in this order: manifest (the manifest JSON, first), optionally note, model (the ONNX file), optionally baseline_csv (the training data).',
            schema: {
              type: 'object',
              required: ['manifest', 'model'],
              properties: {
                manifest: { type: 'string', contentMediaType: 'application/json' },
                note: { type: 'string', maxLength: 10_000 },
                model: { type: 'string', contentMediaType: 'application/octet-stream' },
                baseline_csv: { type: 'string', contentMediaType: 'text/csv' },
              },
            },
          },
          'application/json': {
            description: 'The earlier form, read whole before it is checked: for small models.',
            schema: jsonSchema(uploadBody, 'input'),
          },
        },
      },
      responses: {
        201: 'The registered version.',
        409: 'The version exists already.',
        413: 'Over 256 MiB.',
        422: 'A manifest or model that does not check out.',
        503: 'Too many uploads in flight; retry later.',
      },
    },
    async (c, { params, query: q }) => {
      const deps = c.get('deps');
      const release = uploads.acquire();
      let dir: string | null = null;
      try {
        checkDeclaredLength(c.req.raw, UPLOAD_LIMIT);
        const boundary = multipartBoundary(c.req.header('content-type'));
        let input: Omit<RegisterInput, 'model' | 'actor' | 'activate'>;
        if (boundary !== null) {
          if (!boundary) throw new ApiError('invalid_body', 'multipart/form-data needs a boundary parameter');
          if (!c.req.raw.body) throw new ApiError('invalid_body', 'the upload has no body');
          dir = freshPrivateDir('driftwatch-upload-');
          const up = await readMultipartUpload(deps, params.name, c.req.raw.body, boundary, dir);
          input = { manifest: up.manifest, onnx: up.model, baselineCsv: up.baselineCsv, note: up.note };
        } else {
          const body = await readJsonUpload(c, uploadBody);
          // Checked before the model is decoded (a copy as large again).
          await checkManifest(deps, params.name, body.manifest);
          input = {
            manifest: body.manifest,
            onnx: Buffer.from(body.model_base64, 'base64'),
            baselineCsv: body.baseline_csv ? Buffer.from(body.baseline_csv) : undefined,
            note: body.note,
          };
        }
        const view = await registerVersion(deps, {
          ...input,
          model: params.name,
          actor: c.get('actor').name,
          activate: q.activate === undefined ? undefined : q.activate === 'true',
        });
        await runtime.sync(true);
        return c.json(view, 201);
      } finally {
        release();
        if (dir !== null) rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  route(
    app,
    {
      ...common,
      method: 'post',
      path: '/v1/models/:name/versions/:v/activate',
      summary: 'Make a version the active one',
      tags: ['serving'],
      roles: ['admin'],
      params: { name, v: version },
      body: { schema: noteBody, emptyAsObject: true },
      responses: changed,
    },
    async (c, { params, body }) => {
      const result = await activateVersion(
        c.get('deps'),
        params.name,
        params.v,
        c.get('actor').name,
        body.note,
      );
      return c.json(result);
    },
  );

  route(
    app,
    {
      ...common,
      method: 'post',
      path: '/v1/models/:name/rollback',
      summary: 'Activate the version that was active before',
      tags: ['serving'],
      roles: ['admin'],
      params: { name },
      body: { schema: noteBody, emptyAsObject: true },
      responses: { ...changed, 409: 'No earlier version to roll back to.' },
    },
    async (c, { params, body }) => {
      const result = await rollbackModel(c.get('deps'), params.name, c.get('actor').name, body.note);
      return c.json(result);
    },
  );

  route(
    app,
    {
      ...common,
      method: 'post',
      path: '/v1/models/:name/versions/:v/shadow',
      summary: 'Run a version as shadow of the active one (or stop)',
      tags: ['serving'],
      roles: ['admin'],
      params: { name, v: version },
      body: { schema: shadowBody },
      responses: {
        200: 'The version.',
        404: 'No such model or version.',
        409: 'The active version cannot be its own shadow.',
      },
    },
    async (c, { params, body }) => {
      const view = await setShadow(c.get('deps'), params.name, params.v, body.enabled, c.get('actor'));
      return c.json(view);
    },
  );

  route(
    app,
    {
      ...common,
      method: 'delete',
      path: '/v1/models/:name/versions/:v',
      summary: 'Delete a version that is neither active nor shadow',
      tags: ['serving'],
      roles: ['admin'],
      params: { name, v: version },
      responses: {
        204: 'Deleted.',
        404: 'No such model or version.',
        409: 'The version is active or shadow.',
      },
    },
    async (c, { params }) => {
      await deleteVersion(c.get('deps'), params.name, params.v, c.get('actor'));
      return c.body(null, 204);
    },
  );

  route(
    app,
    {
      ...common,
      method: 'get',
      path: '/v1/models/:name/versions/:v/compare',
      summary: 'How a shadow version agrees with the active one',
      tags: ['serving'],
      roles: ['reviewer'],
      params: { name, v: version },
      query: compareQuery,
      responses: { 200: 'Agreement and differences over the range.', 404: 'No such model or version.' },
    },
    async (c, { params, query }) => {
      await runtime.flushShadowStats();
      return c.json(await compareShadow(c.get('deps'), params.name, params.v, query));
    },
  );

  // ---- Open Inference Protocol v2 ----
  const oip = { ...common, tags: ['oip'] };
  route(
    app,
    {
      ...oip,
      method: 'get',
      path: '/v2/health/live',
      summary: 'OIP server liveness',
      roles: 'public',
      responses: { 200: { description: 'Live.', schema: z.object({ live: z.literal(true) }) } },
    },
    (c) => c.json({ live: true }),
  );
  route(
    app,
    {
      ...oip,
      method: 'get',
      path: '/v2/health/ready',
      summary: 'OIP server readiness: every served version (and every one of serving.modelsDir) loaded',
      roles: 'public',
      responses: { 200: 'Ready.', 503: { description: 'Not ready; the versions that failed to load.' } },
    },
    (c) => {
      const { unavailable } = runtime.readiness();
      const ready = unavailable.length === 0 && runtime.list().every((v) => v.runner.status().ready);
      return c.json({ ready, ...(unavailable.length ? { unavailable } : {}) }, ready ? 200 : 503);
    },
  );
  route(
    app,
    {
      ...oip,
      method: 'get',
      path: '/v2/models/:name/ready',
      summary: "OIP model readiness (the model's active version)",
      roles: ['ingest', 'reviewer'],
      params: { name },
      responses: {
        200: 'Ready.',
        404: 'The model is not served here.',
        503: 'Not ready: restarting, or a version that failed to load (named, with the reason).',
      },
    },
    (c, { params }) => {
      const failed = runtime.unavailableOf(params.name);
      const v = runtime.version(params.name);
      if (!v && failed.length > 0)
        return c.json({ name: params.name, ready: false, unavailable: failed }, 503);
      const served = v ?? servedVersion(runtime, params.name);
      const ready = served.runner.status().ready && failed.length === 0;
      return c.json(
        { name: served.model, ready, ...(failed.length ? { unavailable: failed } : {}) },
        ready ? 200 : 503,
      );
    },
  );
  for (const path of ['/v2/models/:name', '/v2/models/:name/versions/:v'] as const) {
    const versioned = path.endsWith(':v');
    const params: { name: typeof name; v?: typeof version } = { name, ...(versioned ? { v: version } : {}) };
    route(
      app,
      {
        ...oip,
        method: 'get',
        path,
        summary: versioned ? 'OIP metadata of one version' : "OIP metadata of the model's active version",
        roles: ['ingest', 'reviewer'],
        params,
        responses: { 200: 'Name, versions, platform, inputs and outputs.', 404: 'Not served here.' },
      },
      async (c, { params }) => {
        const v = servedVersion(runtime, params.name, params.v);
        const versions = (await listVersions(c.get('deps'), params.name)).versions.map((x) => x.version);
        return c.json(oipMetadata(v, versions));
      },
    );
    route(
      app,
      {
        ...oip,
        method: 'post',
        path: `${path}/infer`,
        summary: versioned
          ? 'OIP inference with one version'
          : "OIP inference with the model's active version",
        description:
          "Each prediction is logged for monitoring under the server's request id; the client's id is echoed.",
        roles: ['ingest'],
        params,
        logModel: 'name',
        body: {
          schema: oipBody,
          // A model or version not served here is a 404 before any of the body is read.
          read: (c: Context<AppEnv>, schema: typeof oipBody): Promise<unknown> => {
            servedVersion(runtime, c.req.param('name') ?? '', c.req.param('v'));
            return parseJsonBody(c, schema);
          },
        },
        responses: {
          200: { description: 'The OIP inference response.', headers: served },
          404: 'Not served here.',
          422: 'Inputs that do not fit the manifest.',
          504: 'The model did not answer within serving.deadlineMs.',
        },
      },
      async (c, { params, body: raw }) => {
        const model = params.name;
        const version = params.v;
        const v = servedVersion(runtime, model, version);
        const request = fromOipRequest(v.manifest, raw, {
          maxInstances: c.get('deps').config.serving.maxInstances,
        });
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
      },
    );
  }
  return app;
}

/**
 * The serving routes' declarations, for the document of a process that does not serve models (it still
 * describes them). Registering routes touches no runtime, and these handlers never run.
 */
export function servingDeclarations(): readonly RouteDecl[] {
  const unused = new Proxy({} as ServingRuntime, {
    get() {
      throw new Error('servingDeclarations: the serving runtime is not for use');
    },
  });
  return declarationsOf(servingRoutes(unused));
}
