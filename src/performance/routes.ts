import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route, typed } from '../openapi/index.js';
import { timeParam } from '../time.js';
import { type PerformanceResult, performanceSeries } from './service.js';

const time = timeParam.describe('RFC 3339 time or epoch milliseconds');

const query = z.strictObject({
  from: time.optional(),
  to: time.optional(),
  kind: z.enum(['bucket', 'rolling']).default('bucket'),
  model_version: z.string().min(1).optional(),
});

const iso = z.string().describe('RFC 3339 time');
const metric = z.number().nullable();
const bandSchema = z.object({ lower: metric, upper: metric, sd: metric }).nullable();
const count = z.number().int().nonnegative();

const realizedSchema = z
  .object({
    n: count.describe('Labelled rows counted (labels joined to rows of the estimate’s spec).'),
    accuracy: metric,
    precision: metric.describe('Binary: of the positive class; K classes: the macro mean.'),
    recall: metric,
    f1: metric,
    roc_auc: metric.describe(
      'Binary: the AUC; K classes: the mean one-vs-rest AUC over classes with both kinds of labels.',
    ),
    roc_auc_error_bound: metric.describe(
      'Bound on |roc_auc − the AUC of the raw scores| (pairs within a score cell count half).',
    ),
    per_class: z.array(
      z.object({
        class: z.string(),
        precision: metric,
        recall: metric,
        f1: metric,
        support: count,
        roc_auc: metric.describe('K classes: one-vs-rest AUC; null for binary.'),
      }),
    ),
    macro: z
      .object({ precision: metric, recall: metric, f1: metric })
      .describe('Unweighted means over all classes; an undefined metric counts 0 (as the estimate).'),
    confusion: z
      .object({
        predicted: z.array(z.string()),
        actual: z.array(z.string()),
        counts: z.array(z.array(count)),
      })
      .describe('counts[i][j]: rows predicted predicted[i] whose label is actual[j] ("(other)": no class).'),
  })
  .nullable()
  .describe('Metrics of the labels that have arrived; null before any.');

export const performanceResultSchema = typed<PerformanceResult>()(
  z.object({
    window: z.object({ from: iso, to: iso }),
    model_version: z.string().nullable(),
    kind: z.enum(['binary', 'multiclass']),
    threshold: z.number().nullable(),
    classes: z.array(z.string()).nullable(),
    n: z.number().int().describe('Rows with probabilities the estimate comes from.'),
    estimated: z.object({
      accuracy: metric,
      precision: metric,
      recall: metric,
      f1: metric,
      roc_auc: metric.describe(
        'Binary: the expected AUC; K classes: the mean expected one-vs-rest AUC (null beyond 20 classes).',
      ),
      band: z
        .object({
          accuracy: bandSchema,
          precision: bandSchema,
          recall: bandSchema,
          f1: bandSchema,
          roc_auc: bandSchema,
        })
        .describe('95% bands for the metric the labels will realize (macro for K classes).'),
      roc_auc_error_bound: metric,
      per_class: z
        .array(
          z.object({ class: z.string(), precision: metric, recall: metric, f1: metric, roc_auc: metric }),
        )
        .nullable()
        .describe('K classes: per-class estimates (one-vs-rest AUC); null for binary.'),
    }),
    realized: realizedSchema,
    labeled: z.number().int(),
    baseline_accuracy: metric.describe("The baseline's accuracy on its labelled rows (label=)."),
  }),
);

export function performanceRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/performance',
      summary: 'Estimated (from logged probabilities) and realized classifier performance per window',
      tags: ['drift'],
      roles: ['reviewer'],
      params: { model: { description: 'The model name.' } },
      logModel: 'model',
      query,
      responses: {
        200: {
          description: 'One result per window and model version, oldest first.',
          schema: z.object({ results: z.array(performanceResultSchema) }),
        },
        404: 'No such model.',
      },
    },
    async (c, { params, query: q }) =>
      c.json({
        results: await performanceSeries(c.get('deps'), params.model, {
          from: q.from,
          to: q.to,
          kind: q.kind,
          ...(q.model_version === undefined ? {} : { modelVersion: q.model_version }),
        }),
      }),
  );
  return app;
}
