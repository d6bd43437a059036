import { blob, index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** A training-data profile a model version's production traffic is compared with. */
export const baselines = sqliteTable(
  'baselines',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    // sha256 of the uploaded training data bytes, so the same training set is recognisable.
    sha256: text('sha256').notNull(),
    rowCount: integer('row_count').notNull(),
    codeCommit: text('code_commit'),
    notes: text('notes'),
    // JSON of the profile options it was built with (types forced, excluded columns, top-K, grid size), so a
    // baseline rebuilt from production data (accept_shift) is profiled the same way.
    options: text('options').notNull().default('{}'),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by'),
    // Non-null while the baseline is the active one for its model version; the latest activation wins
    // for versions without a baseline of their own.
    activatedAt: integer('activated_at'),
    active: integer('active', { mode: 'boolean' }).notNull().default(false),
    // JSON BaselinePerformance (src/profiles/calibration.ts): the classifier's kind, its accuracy on the
    // labelled training rows and the calibration map applied to logged probabilities; null without label=.
    performance: text('performance'),
  },
  (t) => [index('baselines_model').on(t.model, t.modelVersion)],
);

/** One profiled column of a baseline: a feature, or the prediction. */
export const baselineColumns = sqliteTable(
  'baseline_columns',
  {
    baselineId: integer('baseline_id')
      .notNull()
      .references(() => baselines.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['feature', 'prediction'] }).notNull(),
    name: text('name').notNull(),
    // JSON ColumnProfile (type, summary stats, PSI edges, fine grid and reference counts, categories).
    profile: text('profile').notNull(),
  },
  (t) => [primaryKey({ columns: [t.baselineId, t.role, t.name] })],
);

/**
 * Per-(bucket, column) aggregate of production values binned on the baseline's own grid. Counts only
 * ever add, so aggregates from several writers can be summed.
 */
export const aggregates = sqliteTable(
  'aggregates',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    baselineId: integer('baseline_id').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    bucketMs: integer('bucket_ms').notNull(),
    role: text('role', { enum: ['feature', 'prediction', 'extra'] }).notNull(),
    name: text('name').notNull(),
    n: integer('n').notNull(),
    missing: integer('missing').notNull(),
    typeMismatch: integer('type_mismatch').notNull(),
    outOfRange: integer('out_of_range').notNull(),
    unseen: integer('unseen').notNull(),
    // Numeric values not exactly on a grid edge: zero means grid KS/Wasserstein are exact for the window.
    offEdge: integer('off_edge').notNull().default(0),
    // Smallest / largest numeric value seen: closes the open outer grid cells for Wasserstein.
    vmin: real('vmin'),
    vmax: real('vmax'),
    // Little-endian uint32 counts per grid cell (numeric) or per category slot (categorical).
    counts: blob('counts', { mode: 'buffer' }).notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    // bucket_ms is part of the key: after a change of bucket size, new buckets never merge into old rows.
    primaryKey({
      columns: [t.model, t.modelVersion, t.baselineId, t.bucketStart, t.bucketMs, t.role, t.name],
    }),
  ],
);

/** Per-bucket record counts and label outcomes, independent of any baseline. */
export const bucketStats = sqliteTable(
  'bucket_stats',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    bucketMs: integer('bucket_ms').notNull(),
    records: integer('records').notNull(),
    labeled: integer('labeled').notNull(),
    // Classification: labels equal to the predicted class. Regression: absolute and squared error sums.
    classified: integer('classified').notNull(),
    correct: integer('correct').notNull(),
    regressed: integer('regressed').notNull(),
    absErrSum: real('abs_err_sum').notNull(),
    sqErrSum: real('sq_err_sum').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs] })],
);

/**
 * Buckets whose aggregates or label stats changed since the drift tick took them. `seq` grows with every
 * change, so a tick deletes a row only if it did not change again while being evaluated: commit order and
 * wall clocks do not matter.
 */
export const changedBuckets = sqliteTable(
  'changed_buckets',
  {
    model: text('model').notNull(),
    modelVersion: text('model_version').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    bucketMs: integer('bucket_ms').notNull(),
    seq: integer('seq').notNull().default(1),
    // The seq the rolling window was last evaluated at: open buckets stay until they close.
    rolledSeq: integer('rolled_seq').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.model, t.modelVersion, t.bucketStart, t.bucketMs] })],
);

/**
 * One row per model while a baseline activation is in progress: the lease that allows one activation per
 * model, and the durable cursor of the re-aggregation, so a crash resumes it instead of leaving it half done.
 */
export const activations = sqliteTable('activations', {
  model: text('model').primaryKey(),
  baselineId: integer('baseline_id').notNull(),
  versions: text('versions').notNull(),
  maxRecordId: integer('max_record_id').notNull(),
  cursor: integer('cursor').notNull().default(0),
  total: integer('total').notNull(),
  done: integer('done').notNull().default(0),
  startedAt: integer('started_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  startedBy: text('started_by'),
});
