import {
  bigserial,
  boolean,
  doublePrecision,
  index,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { bytea, ms } from './columns.js';

// Column lists mirror src/store/sqlite/schema (test/store/schema-parity.test.ts compares them); comments on
// what each column means live there.

export const baselines = pgTable(
  'baselines',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    sha256: text('sha256').notNull(),
    rowCount: ms('row_count').notNull(),
    codeCommit: text('code_commit'),
    notes: text('notes'),
    options: text('options').notNull().default('{}'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by'),
    activatedAt: ms('activated_at'),
    active: boolean('active').notNull().default(false),
    performance: text('performance'),
  },
  (t) => [index('baselines_model').on(t.model, t.modelVersion)],
);

export const baselineColumns = pgTable(
  'baseline_columns',
  {
    baselineId: ms('baseline_id')
      .notNull()
      .references(() => baselines.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['feature', 'prediction'] }).notNull(),
    name: text('name').notNull(),
    profile: text('profile').notNull(),
  },
  (t) => [primaryKey({ columns: [t.baselineId, t.role, t.name] })],
);

export const aggregates = pgTable(
  'aggregates',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    baselineId: ms('baseline_id').notNull(),
    bucketStart: ms('bucket_start').notNull(),
    bucketMs: ms('bucket_ms').notNull(),
    role: text('role', { enum: ['feature', 'prediction', 'extra'] }).notNull(),
    name: text('name').notNull(),
    n: ms('n').notNull(),
    missing: ms('missing').notNull(),
    typeMismatch: ms('type_mismatch').notNull(),
    outOfRange: ms('out_of_range').notNull(),
    unseen: ms('unseen').notNull(),
    offEdge: ms('off_edge').notNull().default(0),
    vmin: doublePrecision('vmin'),
    vmax: doublePrecision('vmax'),
    counts: bytea('counts').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    primaryKey({
      columns: [t.model, t.modelVersion, t.baselineId, t.bucketStart, t.bucketMs, t.role, t.name],
    }),
  ],
);

export const bucketStats = pgTable(
  'bucket_stats',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    bucketStart: ms('bucket_start').notNull(),
    bucketMs: ms('bucket_ms').notNull(),
    records: ms('records').notNull(),
    labeled: ms('labeled').notNull(),
    classified: ms('classified').notNull(),
    correct: ms('correct').notNull(),
    regressed: ms('regressed').notNull(),
    absErrSum: doublePrecision('abs_err_sum').notNull(),
    sqErrSum: doublePrecision('sq_err_sum').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs] })],
);

export const changedBuckets = pgTable(
  'changed_buckets',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    bucketStart: ms('bucket_start').notNull(),
    bucketMs: ms('bucket_ms').notNull(),
    seq: ms('seq').notNull().default(1),
    rolledSeq: ms('rolled_seq').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs] })],
);

export const activations = pgTable('activations', {
  model: text('model').primaryKey(),
  baselineId: ms('baseline_id').notNull(),
  versions: text('versions').notNull(),
  maxRecordId: ms('max_record_id').notNull(),
  cursor: ms('cursor').notNull().default(0),
  total: ms('total').notNull(),
  done: ms('done').notNull().default(0),
  startedAt: ms('started_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
  startedBy: text('started_by'),
});

export const driftResults = pgTable(
  'drift_results',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    baselineId: ms('baseline_id').notNull(),
    windowKind: text('window_kind', { enum: ['bucket', 'rolling', 'range'] }).notNull(),
    windowFrom: ms('window_from').notNull(),
    windowTo: ms('window_to').notNull(),
    n: ms('n').notNull(),
    drifted: boolean('drifted'),
    driftedShare: doublePrecision('drifted_share'),
    result: text('result').notNull(),
    evaluatedAt: ms('evaluated_at').notNull(),
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

export const driftResultSummaries = pgTable('drift_result_summaries', {
  driftResultId: ms('drift_result_id').primaryKey(),
  summary: text('summary').notNull(),
});

export const driftFeatureResults = pgTable(
  'drift_feature_results',
  {
    driftResultId: ms('drift_result_id').notNull(),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    windowKind: text('window_kind', { enum: ['bucket', 'rolling', 'range'] }).notNull(),
    windowTo: ms('window_to').notNull(),
    feature: text('feature').notNull(),
    psi: doublePrecision('psi'),
    pvalueAdjusted: doublePrecision('pvalue_adjusted'),
    drifted: boolean('drifted'),
    severity: text('severity'),
    n: ms('n').notNull(),
    measures: text('measures').notNull(),
  },
  (t) => [primaryKey({ columns: [t.driftResultId, t.feature] })],
);

export const featureLatest = pgTable(
  'feature_latest',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    feature: text('feature').notNull(),
    psi: doublePrecision('psi'),
    ksStatistic: doublePrecision('ks_statistic'),
    ksPvalue: doublePrecision('ks_pvalue'),
    drifted: boolean('drifted'),
    windowKind: text('window_kind', { enum: ['bucket', 'rolling', 'range'] }).notNull(),
    windowTo: ms('window_to').notNull(),
    evaluatedAt: ms('evaluated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.feature] })],
);
