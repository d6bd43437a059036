import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** One evaluated window: the time series behind drift charts, alerts and reports. */
export const driftResults = sqliteTable(
  'drift_results',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    baselineId: integer('baseline_id').notNull(),
    // bucket: one closed event-time bucket; rolling: the configured rolling window; range: an on-demand run.
    windowKind: text('window_kind', { enum: ['bucket', 'rolling', 'range'] }).notNull(),
    windowFrom: integer('window_from').notNull(),
    windowTo: integer('window_to').notNull(),
    n: integer('n').notNull(),
    drifted: integer('drifted', { mode: 'boolean' }),
    driftedShare: real('drifted_share'),
    // JSON of the full result (features, prediction, quality, performance).
    result: text('result').notNull(),
    evaluatedAt: integer('evaluated_at').notNull(),
  },
  (t) => [
    uniqueIndex('drift_results_window').on(
      t.model,
      t.modelVersion,
      t.baselineId,
      t.windowKind,
      t.windowFrom,
      t.windowTo,
    ),
    index('drift_results_model_to').on(t.model, t.windowTo),
  ],
);

/**
 * A result's JSON without its per-feature columns (those are rows of drift_feature_results): what a
 * one-feature series reads instead of the whole result. A table of its own, not a column of drift_results:
 * SQLite keeps a row's columns in order, so a column after the large `result` is read by walking its
 * overflow pages. No row for results stored before it existed, until the drift-backfill job writes it
 * (readers then parse `result`).
 */
export const driftResultSummaries = sqliteTable('drift_result_summaries', {
  driftResultId: integer('drift_result_id').primaryKey(),
  summary: text('summary').notNull(),
});

/**
 * One feature's measures in one drift result, written in the same transaction as the result: a feature's
 * series over many windows reads these small rows instead of every window's whole JSON.
 */
export const driftFeatureResults = sqliteTable(
  'drift_feature_results',
  {
    driftResultId: integer('drift_result_id').notNull(),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    windowKind: text('window_kind', { enum: ['bucket', 'rolling', 'range'] }).notNull(),
    windowTo: integer('window_to').notNull(),
    feature: text('feature').notNull(),
    psi: real('psi'),
    pvalueAdjusted: real('pvalue_adjusted'),
    drifted: integer('drifted', { mode: 'boolean' }),
    severity: text('severity'),
    n: integer('n').notNull(),
    // JSON of the feature's full column result, as in drift_results.result.
    measures: text('measures').notNull(),
  },
  (t) => [primaryKey({ columns: [t.driftResultId, t.feature] })],
);

/**
 * The latest per-feature measures of each model version (its newest rolling or bucket result), one row per
 * feature of the baseline: what GET /metrics reads in one query instead of parsing drift_results JSON.
 */
export const featureLatest = sqliteTable(
  'feature_latest',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    feature: text('feature').notNull(),
    psi: real('psi'),
    ksStatistic: real('ks_statistic'),
    ksPvalue: real('ks_pvalue'),
    // null when the window had too few values for a verdict.
    drifted: integer('drifted', { mode: 'boolean' }),
    windowKind: text('window_kind', { enum: ['bucket', 'rolling', 'range'] }).notNull(),
    windowTo: integer('window_to').notNull(),
    evaluatedAt: integer('evaluated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.feature] })],
);

/** Named leases with an expiry: the job leader, and any other "one at a time across processes" rule. */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: integer('expires_at').notNull(),
  acquiredAt: integer('acquired_at').notNull(),
});

/** Small key/value state for jobs. */
export const jobState = sqliteTable('job_state', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
