import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { multivariateSchema } from '../multivariate/schema.js';
import { route, typed } from '../openapi/index.js';
import { timeParam } from '../time.js';
import type { ColumnResult } from './evaluate.js';
import {
  type DriftResult,
  driftSeries,
  type FeatureHistogram,
  featureHistogram,
  latestDrift,
} from './service.js';

// Reading drift results. Running drift on demand (POST …/drift/run) raises alerts too, so it lives with
// the composing step in jobs/.

const time = timeParam.describe('RFC 3339 time or epoch milliseconds');

const seriesQuery = z.strictObject({
  from: time.optional(),
  to: time.optional(),
  feature: z.string().min(1).optional(),
  kind: z.enum(['bucket', 'rolling', 'range']).optional(),
  model_version: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(500),
});

const histogramQuery = z.strictObject({
  from: time.optional(),
  to: time.optional(),
  model_version: z.string().min(1).optional(),
});

const iso = z.string().describe('RFC 3339 time');
const window = z.object({ from: iso, to: iso });
const rate = z.number().nullable();

const columnSchema = typed<ColumnResult>()(
  z.object({
    feature: z.string(),
    type: z.enum(['numeric', 'categorical']),
    n: z.number().int().describe('Values usable for the distribution.'),
    records: z.number().int().describe('Records that carried the column at all.'),
    psi: z.number().nullable(),
    ks_statistic: z.number().nullable(),
    ks_pvalue: z.number().nullable(),
    wasserstein_normed: z.number().nullable(),
    chi2_statistic: z.number().nullable(),
    chi2_pvalue: z.number().nullable(),
    js: z.number().nullable(),
    pvalue_adjusted: z.number().nullable().describe('KS or χ² p-value after Benjamini–Hochberg adjustment.'),
    missing_rate: rate,
    baseline_missing_rate: z.number(),
    type_mismatch_rate: rate,
    unseen_rate: rate,
    out_of_range_rate: rate,
    psi_warning: z.number().nullable().describe('The PSI threshold the verdict used.'),
    drifted: z.boolean().nullable().describe('null when the window has too few values for a verdict.'),
    severity: z.enum(['none', 'warning', 'critical']).nullable(),
  }),
);

export const driftResultSchema = typed<DriftResult>()(
  z.object({
    id: z.number().int(),
    model: z.string(),
    model_version: z.string().nullable(),
    baseline_id: z.number().int(),
    window_kind: z.enum(['bucket', 'rolling', 'range']),
    window,
    n: z.number().int(),
    features: z.array(columnSchema),
    prediction: columnSchema.nullable(),
    unknown_features: z.array(
      z.object({ feature: z.string(), records: z.number().int(), rate: z.number().nullable() }),
    ),
    multivariate: multivariateSchema.nullable(),
    drifted_share: z.number().nullable(),
    drifted: z.boolean().nullable(),
    performance: z.object({
      labeled: z.number().int(),
      label_coverage: rate,
      accuracy: z.number().nullable(),
      mae: z.number().nullable(),
      rmse: z.number().nullable(),
    }),
    rebuilding: z
      .object({ records_done: z.number().int(), records_total: z.number().int() })
      .nullable()
      .describe('Set while the baseline is rebuilt: the numbers are provisional.'),
    evaluated_at: iso,
  }),
);

export const driftResultsSchema = z.object({ results: z.array(driftResultSchema) });

export const featureHistogramSchema = typed<FeatureHistogram>()(
  z.object({
    model: z.string(),
    model_version: z.string().nullable(),
    baseline_id: z.number().int(),
    feature: z.string(),
    type: z.enum(['numeric', 'categorical']),
    window,
    n: z.number().int(),
    bins: z.array(
      z.object({
        label: z.string(),
        lower: z.number().nullable().optional(),
        upper: z.number().nullable().optional(),
        baseline: z.number(),
        window: z.number(),
      }),
    ),
  }),
);

const model = { description: 'The model name.' };

export function driftRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/drift',
      summary: "A model's drift results over time",
      tags: ['drift'],
      roles: ['reviewer'],
      params: { model },
      logModel: 'model',
      query: seriesQuery,
      responses: { 200: { description: 'The results, oldest first.', schema: driftResultsSchema } },
    },
    async (c, { params, query }) =>
      c.json({
        results: await driftSeries(c.get('deps'), params.model, {
          ...query,
          modelVersion: query.model_version,
        }),
      }),
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/drift/latest',
      summary: 'The latest drift result of each window kind and version',
      tags: ['drift'],
      roles: ['reviewer'],
      params: { model },
      logModel: 'model',
      responses: { 200: { description: 'The latest results.', schema: driftResultsSchema } },
    },
    async (c, { params }) => c.json({ results: await latestDrift(c.get('deps'), params.model) }),
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/features/:feature/histogram',
      summary: 'Baseline vs. window proportions of one feature, per PSI bin or category',
      tags: ['drift'],
      roles: ['reviewer'],
      params: { model, feature: { description: 'The feature name.' } },
      logModel: 'model',
      query: histogramQuery,
      responses: {
        200: { description: 'The histogram.', schema: featureHistogramSchema },
        404: 'No such model, baseline or feature.',
      },
    },
    async (c, { params, query }) =>
      c.json(
        await featureHistogram(c.get('deps'), params.model, params.feature, {
          ...(query.from === undefined ? {} : { from: query.from }),
          ...(query.to === undefined ? {} : { to: query.to }),
          ...(query.model_version === undefined ? {} : { modelVersion: query.model_version }),
        }),
      ),
  );

  return app;
}
