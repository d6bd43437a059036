// The store interface: every read and write of driftwatch's state goes through it. Services `await` these
// methods inside `store.tx(async (tx) => …)`; the SQLite store runs transactions one at a time, a PostgreSQL
// store would run them on a pool. Rules that must hold with several writers live in the implementation
// (unique indexes, compare-and-set, additive upserts), never in module-level state of a service.
//
// Times are milliseconds since the epoch (64-bit integers in the database). Rows use camelCase; JSON
// columns are handed over as text so the store knows nothing of the domain types stored in them.

/** A column of an aggregate: a baseline feature, the prediction, or a feature the baseline does not have. */
export type Role = 'feature' | 'prediction' | 'extra';
export type WindowKind = 'bucket' | 'rolling' | 'range';

/** Every kind of alert: the list lives in views.ts, the rules in src/rules/alerts.ts. */
import type { AlertKind } from '../views.js';

export type { AlertKind };
export type AlertSeverity = 'warning' | 'critical';
export type AlertStatus = 'open' | 'acknowledged' | 'decided' | 'snoozed' | 'closed';
export type AlertDecision = 'retrain' | 'accept_shift' | 'rollback' | 'false_positive' | 'snooze';
export type RetrainStatus = 'requested' | 'accepted' | 'in_progress' | 'done' | 'rejected';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A validated inference record, as ingest stores it. */
export interface NewRecord {
  model: string;
  /** '' when the client sent no version. */
  modelVersion: string;
  requestId: string;
  ts: number;
  features: Record<string, number | string | boolean | null>;
  prediction: unknown;
  label: unknown;
  latencyMs: number | null;
  status: 'ok' | 'error' | null;
  error: string | null;
  tags: Record<string, string> | null;
  /** How many feature keys the record has, when validation counted them (saves aggregation a second pass). */
  featureCount?: number;
}

export interface RecordRow {
  id: number;
  model: string;
  modelVersion: string;
  requestId: string;
  ts: number;
  receivedAt: number;
  features: string;
  prediction: string | null;
  label: string | null;
  latencyMs: number | null;
  status: 'ok' | 'error' | null;
  error: string | null;
  tags: string | null;
}

/** A stored record's fields needed to re-aggregate it. */
export type RecordPageRow = Pick<
  RecordRow,
  'id' | 'model' | 'modelVersion' | 'requestId' | 'ts' | 'features' | 'prediction' | 'label'
>;

export interface NewRejection {
  positionKind: 'index' | 'line';
  position: number;
  model: string | null;
  requestId: string | null;
  /** JSON of the problems. */
  errors: string;
  raw: string;
}

export interface RejectionRow extends NewRejection {
  id: number;
  receivedAt: number;
  ingestRequestId: string;
}

export interface ModelVersionRow {
  model: string;
  modelVersion: string;
  recordCount: number;
  firstTs: number;
  lastTs: number;
  firstReceivedAt: number;
  lastReceivedAt: number;
}

/** What an aggregate counts for one column; a bucket's row and a summed window share it. */
export interface ColumnTallies {
  /** Values placed in a slot (counted in `counts`). */
  n: number;
  missing: number;
  typeMismatch: number;
  outOfRange: number;
  unseen: number;
  offEdge: number;
  vmin: number | null;
  vmax: number | null;
}

export interface AggregateKey {
  model: string;
  modelVersion: string;
  baselineId: number;
  bucketStart: number;
  bucketMs: number;
  role: Role;
  name: string;
}

/** An addition to one (bucket, column) aggregate: counts per grid cell or category slot. */
export interface AggregateDelta extends AggregateKey, ColumnTallies {
  counts: Uint32Array;
}

export interface AggregateRow extends ColumnTallies {
  role: Role;
  name: string;
  counts: Uint32Array;
}

/** An aggregate row with its count vector as stored (see counts.ts), for readers that merge without decoding. */
export interface StoredAggregateRow extends ColumnTallies {
  role: Role;
  name: string;
  counts: Uint8Array;
}

/** Record and label-outcome counts of a bucket (or, summed, of a window). */
export interface Outcomes {
  records: number;
  labeled: number;
  classified: number;
  correct: number;
  regressed: number;
  absErrSum: number;
  sqErrSum: number;
}

export interface BucketKey {
  model: string;
  modelVersion: string;
  bucketStart: number;
  bucketMs: number;
}

export interface BucketStatsDelta extends BucketKey, Outcomes {}

/** Request, error and latency counts of a bucket (or, merged, of a window); see src/traffic/histogram.ts. */
export interface TrafficTallies {
  requests: number;
  errors: number;
  /** Records that carried latency_ms. */
  latencyCount: number;
  latencySum: number;
  /** Latency histogram: uint32 counts per log-spaced slot, trailing zeros trimmed. */
  latencyCounts: Uint32Array;
}

export interface TrafficDelta extends BucketKey, TrafficTallies {}

/** An addition to a bucket's performance accumulator (src/stats/performance.ts) of one shape (`spec`). */
export interface PerformanceDelta extends BucketKey {
  /** JSON of the accumulator's shape; vectors of one spec have one length. */
  spec: string;
  rows: number;
  sums: Float64Array;
}

export interface PerformanceRow {
  modelVersion: string;
  bucketStart: number;
  /** The bucket's length: the window's bucket size, or a day for a row rolled up from such buckets. */
  bucketMs: number;
  spec: string;
  rows: number;
  sums: Float64Array;
}

/** Per-bucket performance accumulators: added element-wise by every writer, read per window. */
export interface PerformanceStore {
  add(list: readonly PerformanceDelta[], now: number): Promise<void>;
  window(q: PerformanceWindowQuery): Promise<PerformanceRow[]>;
  /** Realized counts of labelled rows (src/stats/realized.ts), added element-wise like the estimate's sums. */
  addRealized(list: readonly PerformanceDelta[], now: number): Promise<void>;
  /** Replaces a bucket's realized counts (every spec) with these, recounted from its stored labels. */
  setRealized(key: BucketKey, list: readonly PerformanceDelta[], now: number): Promise<void>;
  realizedWindow(q: PerformanceWindowQuery): Promise<PerformanceRow[]>;
  /** Deletes a range's rows and returns them (oldest first), for a rollup to add to its day's rows. */
  take(r: BucketRange): Promise<PerformanceDelta[]>;
  /** The same for the realized counts. */
  takeRealized(r: BucketRange): Promise<PerformanceDelta[]>;
  /**
   * The next `limit` buckets with estimate rows after `after` (in key order), each with its realized rows
   * and the labels its outcomes count (bucket_stats): the realized backfill compares the two.
   */
  labelledBuckets(after: BucketKey | null, limit: number): Promise<LabelledBucket[]>;
}

export interface LabelledBucket extends BucketKey {
  /** Labelled rows the bucket's realized counts hold (every spec). */
  realized: number;
  /** Labels its outcomes count (bucket_stats.labeled), kept beyond raw-record retention. */
  labelled: number;
}

export interface PerformanceWindowQuery {
  model: string;
  modelVersion?: string | undefined;
  bucketMs: number;
  from: number;
  to: number;
}

export interface TrafficRow extends TrafficTallies {
  modelVersion: string;
  bucketStart: number;
}

/** A bucket whose data changed since the drift tick last took it; `seq` grows with every change. */
export interface ChangedBucket extends BucketKey {
  seq: number;
  /** The change sequence the rolling window was last evaluated at. */
  rolledSeq: number;
}

export interface WindowKey {
  model: string;
  modelVersion: string;
  baselineId: number;
  bucketMs: number;
  from: number;
  to: number;
}

/** A version's buckets of one size with bucket_start in [from, to): what a rollup takes (of every baseline). */
export interface BucketRange {
  model: string;
  modelVersion: string;
  bucketMs: number;
  from: number;
  to: number;
}

/** A day (UTC) of a version that still holds buckets of a size shorter than a day. */
export interface RollupCandidate {
  model: string;
  modelVersion: string;
  bucketMs: number;
  day: number;
}

/** A bucket's co-moment vector to add (src/stats/comoments.ts layout, the baseline's multivariate features). */
export interface CoMomentsDelta {
  model: string;
  modelVersion: string;
  baselineId: number;
  bucketStart: number;
  bucketMs: number;
  vector: Float64Array;
}

/** A baseline's own co-moments (see schema baseline_comoments). */
export interface BaselineCoMomentsRow {
  baselineId: number;
  /** JSON { features, mean, sd }. */
  standardisation: string;
  fit: Float64Array;
  calibration: Float64Array;
  /** The chunks' vectors concatenated, or null (stored before chunks were kept). */
  chunks: Float64Array | null;
}

export interface CoMomentsStore {
  /** Adds vectors to their buckets' stored ones (element-wise), in the caller's transaction. */
  add(deltas: readonly CoMomentsDelta[], now: number): Promise<void>;
  /** The stored vectors of a window's buckets, oldest first, added up per UTC day (as a rollup adds them). */
  window(k: WindowKey): Promise<Float64Array[]>;
  /** Deletes a range's rows and returns them (oldest first), for a rollup to add to its day's rows. */
  take(r: BucketRange): Promise<CoMomentsDelta[]>;
  clear(model: string, baselineId: number): Promise<void>;
  putBaseline(row: BaselineCoMomentsRow): Promise<void>;
  baseline(baselineId: number): Promise<BaselineCoMomentsRow | undefined>;
}

/** A sequential alert's CUSUM state after bucket `lastBucket` (the bucket's start). */
export interface CusumRow {
  model: string;
  modelVersion: string;
  feature: string;
  upper: number;
  lastBucket: number;
  /** JSON array of the recent path points. */
  path: string;
  updatedAt: number;
}

export interface CusumStore {
  get(model: string, modelVersion: string, feature: string): Promise<CusumRow | undefined>;
  advance(row: CusumRow): Promise<boolean>;
}

export interface BaselineRow {
  id: number;
  model: string;
  modelVersion: string;
  sha256: string;
  rowCount: number;
  codeCommit: string | null;
  notes: string | null;
  /** JSON of the profile options. */
  options: string;
  createdAt: number;
  createdBy: string | null;
  activatedAt: number | null;
  active: boolean;
  /** JSON BaselinePerformance (src/profiles/calibration.ts); null when built without labels. */
  performance: string | null;
}

export interface BaselineColumnRow {
  role: 'feature' | 'prediction';
  name: string;
  /** JSON ColumnProfile. */
  profile: string;
}

export interface ActiveColumnRow extends BaselineColumnRow {
  baselineId: number;
  modelVersion: string;
}

/**
 * A baseline activation in progress: the lease that keeps one activation per model, and the cursor of
 * the re-aggregation that rebuilds the new baseline's aggregates from stored raw records.
 */
export interface ActivationRow {
  model: string;
  baselineId: number;
  /** JSON array of the model versions being rebuilt. */
  versions: string;
  /** Records with id ≤ maxRecordId are rebuilt; later ones are aggregated by ingest itself. */
  maxRecordId: number;
  /** Last record id folded in (0 at the start). */
  cursor: number;
  total: number;
  done: number;
  startedAt: number;
  updatedAt: number;
  startedBy: string | null;
}

export interface StoredDriftResult {
  model: string;
  modelVersion: string;
  baselineId: number;
  windowKind: WindowKind;
  windowFrom: number;
  windowTo: number;
  n: number;
  drifted: boolean | null;
  driftedShare: number | null;
  /** JSON of the full result. */
  result: string;
  /**
   * JSON of the result without its features (they go to `features`, one row each). Left out, the result is
   * stored whole only, as results stored before drift_feature_results existed, and the backfill splits it.
   */
  summary?: string | undefined;
  features?: StoredFeatureResult[] | undefined;
  evaluatedAt: number;
}

/** One feature's column of a drift result, a row of drift_feature_results. */
export interface StoredFeatureResult {
  feature: string;
  psi: number | null;
  pvalueAdjusted: number | null;
  drifted: boolean | null;
  severity: string | null;
  n: number;
  /** JSON of the feature's column result. */
  measures: string;
}

/**
 * A stored result as a reader gets it: the summary and, when a feature was asked for, its column (null when
 * the result lacks it); `result` (the whole JSON) only where the summary has not been filled yet.
 */
export interface StoredResultRow {
  id: number;
  summary: string | null;
  result: string | null;
  measures: string | null;
}

/** One feature's verdict in a stored result: a row of drift_feature_results without its measures. */
export interface StoredFeatureCell {
  /** The drift result's id. */
  id: number;
  feature: string;
  psi: number | null;
  drifted: boolean | null;
}

export interface DriftResultQuery {
  model: string;
  from?: number | undefined;
  to?: number | undefined;
  kind?: WindowKind | undefined;
  modelVersion?: string | undefined;
  limit: number;
}

export interface ThresholdOverrideRow {
  model: string;
  feature: string;
  psiWarning: number | null;
  psiCritical: number | null;
  alpha: number | null;
  setBy: string;
  reason: string | null;
  updatedAt: number;
}

export interface AlertRow {
  id: number;
  model: string;
  modelVersion: string;
  feature: string;
  kind: AlertKind;
  severity: AlertSeverity;
  status: AlertStatus;
  assignee: string | null;
  version: number;
  recoveredAt: number | null;
  snoozedUntil: number | null;
  decision: AlertDecision | null;
  decisionNote: string | null;
  evidenceCount: number;
  firstSeen: number;
  lastSeen: number;
  peakPsi: number | null;
  latest: string;
  peak: string;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
}

export type NewAlert = Omit<
  AlertRow,
  'id' | 'version' | 'assignee' | 'recoveredAt' | 'snoozedUntil' | 'decision' | 'decisionNote' | 'closedAt'
>;
export type AlertChange = Partial<Omit<AlertRow, 'id' | 'version' | 'createdAt' | 'updatedAt'>>;

export interface EvidenceRow {
  alertId: number;
  driftResultId: number;
  windowKind: WindowKind;
  windowFrom: number;
  windowTo: number;
  severity: AlertSeverity;
  measures: string;
  at: number;
}

export interface AlertEventRow {
  alertId: number;
  at: number;
  actor: string;
  action: string;
  fromStatus: string | null;
  toStatus: string | null;
  note: string | null;
  data: string | null;
}

export interface AlertFilter {
  status?: AlertStatus[] | undefined;
  model?: string | undefined;
  severity?: AlertSeverity | undefined;
  assignee?: string | undefined;
  kind?: AlertKind | undefined;
  limit: number;
  /** `recent` (default): last seen first. `triage`: critical before warning, then the longest waiting (raised first). */
  order?: 'recent' | 'triage' | undefined;
}

/** How many alerts there are per (status, severity), for a queue's counts. */
export interface AlertCount {
  status: AlertStatus;
  severity: AlertSeverity;
  n: number;
}

export interface RetrainRow {
  id: number;
  model: string;
  modelVersion: string;
  /** JSON array of alert ids. */
  alertIds: string;
  requestedBy: string;
  reason: string;
  status: RetrainStatus;
  producedVersion: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export type NewRetrain = Omit<RetrainRow, 'id' | 'version' | 'producedVersion'>;

export interface DeliveryRow {
  id: number;
  channel: string;
  event: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  /** An email delivery's report run (its rendered mail); null for the other channels. */
  reportRunId: number | null;
}

export interface LeaseRow {
  name: string;
  holder: string;
  expiresAt: number;
  acquiredAt: number;
}

// ---- the repositories a transaction offers ----

export interface RecordStore {
  /** Inserts records with distinct (model, request_id); returns those that were new (already stored ones are skipped). */
  insert(list: readonly NewRecord[], receivedAt: number): Promise<NewRecord[]>;
  /**
   * The stored record of a request. With `lock`, the row stays locked until the transaction ends, so two
   * writers labelling one record take turns (the second sees the first one's label).
   */
  byRequestId(model: string, requestId: string, options?: { lock?: boolean }): Promise<RecordRow | undefined>;
  setLabel(id: number, label: string | null): Promise<void>;
  /** Prediction and label (JSON text) of a version's labeled records with event time in [from, to). */
  labeledIn(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
  ): Promise<{ prediction: string | null; label: string }[]>;
  /** Most recent by event time within [from, to). */
  recent(q: {
    model: string;
    from?: number | undefined;
    to?: number | undefined;
    limit: number;
  }): Promise<RecordRow[]>;
  countWindow(model: string, modelVersion: string, from: number, to: number): Promise<number>;
  /** Predictions (JSON text) of a version's records with event time in [from, to), at most `limit`, newest first. */
  predictions(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<string[]>;
  /**
   * Predictions (JSON text) of the requests both the active version and its shadow scored: the active
   * record `<id>` and the shadow's `<id>@<shadowVersion>`, active event time in [from, to), newest first.
   */
  pairedPredictions(
    model: string,
    activeVersion: string,
    shadowVersion: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<{ active: string; shadow: string }[]>;
  /** A version's records with event time in [from, to) and id > afterId, in id order. */
  windowPage(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
    afterId: number,
    limit: number,
  ): Promise<RecordPageRow[]>;
  /** Records of the given versions with afterId < id ≤ maxId, in id order. */
  rebuildPage(
    model: string,
    versions: readonly string[],
    afterId: number,
    maxId: number,
    limit: number,
  ): Promise<RecordPageRow[]>;
  countRebuild(model: string, versions: readonly string[], maxId: number): Promise<number>;
  maxId(): Promise<number>;
  insertRejections(list: readonly NewRejection[], receivedAt: number, ingestRequestId: string): Promise<void>;
  rejections(q: {
    model?: string | undefined;
    limit: number;
    before?: number | undefined;
  }): Promise<RejectionRow[]>;
  /** Deletes up to `limit` rows received before `cutoff`; returns how many went. */
  prune(table: 'records' | 'rejections', cutoff: number, limit: number): Promise<number>;
}

export interface ModelStore {
  /** Adds newly stored records to the per-version counters (additive). */
  bump(inserted: readonly NewRecord[], receivedAt: number): Promise<void>;
  list(model?: string): Promise<ModelVersionRow[]>;
  versions(model: string): Promise<string[]>;
  /** The most recent version before `version` by first event time, for rollbacks. */
  previousVersion(model: string, version: string): Promise<string | null>;
  /** The version that sent data most recently ('' for unversioned records, or none). */
  latestVersion(model: string): Promise<string>;
}

/** Names of features outside the baseline ("extra" rows) kept per bucket; more are not counted. */
export const MAX_EXTRA_PER_BUCKET = 50;

export interface AggregateStore {
  /**
   * Adds each delta to its row; counts, tallies and min/max merge in the database (safe with several
   * writers). Role "extra" rows are created only while their bucket has fewer than MAX_EXTRA_PER_BUCKET.
   */
  add(deltas: readonly AggregateDelta[], now: number): Promise<void>;
  addBucketStats(list: readonly BucketStatsDelta[], now: number): Promise<void>;
  /**
   * Locks a bucket's stats row (if it exists) until the transaction ends, so a recount of its label outcomes
   * is not interleaved with another writer's label changes in that bucket.
   */
  lockBucketStats(key: BucketKey): Promise<void>;
  /** Replaces a bucket's label outcomes (its record count stays), creating the row if needed. */
  setOutcomes(key: BucketKey, outcomes: Omit<Outcomes, 'records'>, now: number): Promise<void>;
  clear(model: string, baselineId: number): Promise<void>;
  window(k: WindowKey): Promise<AggregateRow[]>;
  /** The rows `window` reads, count vectors left encoded (addCountsInto sums them). */
  windowStored(k: WindowKey): Promise<StoredAggregateRow[]>;
  windowOutcomes(k: Omit<WindowKey, 'baselineId'>): Promise<Outcomes>;
  versionsWithData(model: string, bucketMs: number, from: number, to: number): Promise<string[]>;
  /**
   * Days before `before` (a day boundary) that hold aggregates, bucket stats, co-moments or performance rows
   * of buckets shorter than a day: what the rollup merges into day rows.
   */
  rollupCandidates(before: number): Promise<RollupCandidate[]>;
  /**
   * Whether raw records of a version with event times in [from, to) are still kept: a day is rolled up only
   * once they are gone, since label corrections recount a bucket from them (rawRecordsDays counts from receipt,
   * so a replay of old data keeps them long after their buckets are old).
   */
  keepsRecords(r: { model: string; modelVersion: string; from: number; to: number }): Promise<boolean>;
  /** Whether a day row (rolled up from this version's buckets) exists for the day starting at `day`. */
  hasDayRow(r: { model: string; modelVersion: string; day: number }): Promise<boolean>;
  /** Deletes a range's aggregate rows and returns them (oldest first), for a rollup to add to its day's rows. */
  take(r: BucketRange): Promise<AggregateDelta[]>;
  /**
   * Rewrites the long count vectors of a version's buckets that start in [from, to) and end by `closedBy`
   * in their compact form (compare-and-set: a row a writer changed meanwhile is left for the next run);
   * resolves to the rows rewritten.
   */
  compact(k: {
    model: string;
    modelVersion: string;
    from: number;
    to: number;
    closedBy: number;
  }): Promise<number>;
  /** Deletes a range's bucket stats and returns them (oldest first), for a rollup to add to its day's row. */
  takeBucketStats(r: BucketRange): Promise<BucketStatsDelta[]>;
  /** Marks buckets changed: bumps their change sequence, so a tick in flight sees them again. */
  markChanged(keys: readonly BucketKey[]): Promise<void>;
  changed(limit: number): Promise<ChangedBucket[]>;
  /** Forgets a changed bucket, unless it changed again after `seq` was read. */
  takeChanged(key: BucketKey, seq: number): Promise<void>;
  /** Records that the rolling window saw this bucket's change `seq`. */
  markRolled(key: BucketKey, seq: number): Promise<void>;
  /** Adds each delta to its (bucket) traffic row: counts add and histograms merge (safe with several writers). */
  addTraffic(list: readonly TrafficDelta[], now: number): Promise<void>;
  /**
   * Traffic rows of a model with bucket_start in [from, to), of one version or of all, ordered by
   * bucket start then version.
   */
  traffic(q: {
    model: string;
    modelVersion?: string | undefined;
    bucketMs: number;
    from: number;
    to: number;
  }): Promise<TrafficRow[]>;
}

export interface BaselineStore {
  insert(
    row: Omit<BaselineRow, 'id' | 'activatedAt' | 'performance'> & { performance?: string | null },
    columns: readonly BaselineColumnRow[],
  ): Promise<BaselineRow>;
  list(model: string): Promise<BaselineRow[]>;
  get(model: string, id: number): Promise<BaselineRow | undefined>;
  columns(id: number): Promise<BaselineColumnRow[]>;
  hasActive(model: string, modelVersion: string): Promise<boolean>;
  /** Makes the baseline the active one of its version (deactivating the version's others). */
  markActive(row: BaselineRow, now: number): Promise<void>;
  /** Changes whenever a baseline of the model is activated or deactivated, by any process. */
  activeStamp(model: string): Promise<string>;
  /** Every column of the model's active baselines, the most recently activated baseline first. */
  activeColumns(model: string): Promise<ActiveColumnRow[]>;
  activeFeatureNames(model: string): Promise<string[]>;
  /** Feature names of every baseline of the model, active or not. */
  featureNames(model: string): Promise<string[]>;
  /** Starts an activation; false when one of the model is already in progress (the lease row exists). */
  beginActivation(row: ActivationRow): Promise<boolean>;
  /**
   * The model's activation in progress. With `lock`, the row stays locked until the transaction ends, so
   * rebuild runners in several transactions take pages one after another instead of racing for the same one.
   */
  activation(model: string, options?: { lock?: boolean }): Promise<ActivationRow | undefined>;
  activations(): Promise<ActivationRow[]>;
  /** Moves the rebuild cursor from `from` to `to`; false when someone else moved it first. */
  advanceActivation(model: string, from: number, to: number, done: number, now: number): Promise<boolean>;
  finishActivation(model: string): Promise<void>;
}

export interface DriftStore {
  upsertResult(r: StoredDriftResult): Promise<number>;
  list(q: DriftResultQuery): Promise<{ id: number; result: string }[]>;
  /** As list, reading each result's summary and one feature's row instead of the whole JSON. */
  listFeature(q: DriftResultQuery, feature: string): Promise<StoredResultRow[]>;
  /** As list, each result as its summary (whole JSON only where the summary has not been written yet). */
  listSummaries(q: DriftResultQuery): Promise<StoredResultRow[]>;
  /** Each feature of the given results (split ones) and its highest PSI among them (null when none has one). */
  featureMaxima(ids: readonly number[]): Promise<{ feature: string; psi: number | null }[]>;
  /** The cells of the given features in the given results (split ones), in no particular order. */
  cells(ids: readonly number[], features: readonly string[]): Promise<StoredFeatureCell[]>;
  /** One stored result whole, or undefined. */
  get(id: number): Promise<{ id: number; result: string } | undefined>;
  /** Results stored before drift_feature_results existed (no summary yet), oldest first. */
  unsplit(limit: number): Promise<{ id: number; result: string }[]>;
  /** Fills a result's summary and feature rows (the backfill of results stored before they existed). */
  split(id: number, r: { summary: string; features: StoredFeatureResult[] }): Promise<void>;
  /** The most recently evaluated result of each model version. */
  latest(model: string): Promise<{ id: number; result: string }[]>;
  /**
   * The model's newest window (the latest end) and when it was last evaluated, without reading any result
   * body (an index lookup: the overview asks this of every model); null when the model has none.
   */
  lastRun(model: string): Promise<{ windowTo: number; evaluatedAt: number } | null>;
}

export interface ThresholdStore {
  overrides(model: string): Promise<ThresholdOverrideRow[]>;
  upsert(row: ThresholdOverrideRow): Promise<void>;
}

export interface AlertStore {
  /** The alert still in review (not closed) for a (model, feature, kind), if any. */
  openFor(model: string, feature: string, kind: AlertKind): Promise<AlertRow | undefined>;
  get(id: number): Promise<AlertRow | undefined>;
  /** Inserts an open alert; undefined when one for its (model, feature, kind) is already open (unique index). */
  insert(row: NewAlert): Promise<AlertRow | undefined>;
  /**
   * Compare-and-set: applies the change only if the alert is still at `expectVersion`; bumps the version
   * (and updatedAt) unless `bumpVersion` is false. Undefined when the version moved on.
   */
  update(
    id: number,
    expectVersion: number,
    change: AlertChange,
    now: number,
    options?: { bumpVersion?: boolean },
  ): Promise<AlertRow | undefined>;
  hasEvidence(alertId: number, driftResultId: number): Promise<boolean>;
  /** One row per (alert, drift result): a re-evaluated window replaces its earlier measures. */
  upsertEvidence(row: EvidenceRow): Promise<void>;
  evidence(alertId: number, limit?: number): Promise<EvidenceRow[]>;
  latestEvidenceTo(alertId: number): Promise<number | null>;
  addEvent(row: AlertEventRow): Promise<void>;
  events(alertId: number): Promise<AlertEventRow[]>;
  list(f: AlertFilter): Promise<AlertRow[]>;
  /** Alerts per (status, severity) among those matching `f`'s model, assignee and kind. */
  counts(f: Pick<AlertFilter, 'model' | 'assignee' | 'kind'>): Promise<AlertCount[]>;
  /** Every alert not closed, oldest first. */
  unclosed(): Promise<AlertRow[]>;
  dueSnoozed(now: number): Promise<AlertRow[]>;
  insertRetrain(row: NewRetrain): Promise<RetrainRow>;
  getRetrain(id: number): Promise<RetrainRow | undefined>;
  /** Compare-and-set on the request's version; undefined when it moved on. */
  updateRetrain(
    id: number,
    expectVersion: number,
    change: Partial<Pick<RetrainRow, 'status' | 'producedVersion'>>,
    now: number,
  ): Promise<RetrainRow | undefined>;
  listRetrain(f: {
    model?: string | undefined;
    status?: RetrainStatus | undefined;
    limit: number;
  }): Promise<RetrainRow[]>;
  retrainForAlert(alertId: number): Promise<RetrainRow[]>;
}

/**
 * The one outbox. The outcome of an email delivery is also written to its report run (status, attempts, error,
 * message id), in the same statement's transaction, so the run and its delivery never disagree.
 */
export interface DeliveryStore {
  insert(d: {
    channel: string;
    event: string;
    payload: string;
    now: number;
    reportRunId?: number | undefined;
  }): Promise<number>;
  /** Due deliveries in queue order; a channel's delivery waiting for a retry holds back its later ones. */
  due(now: number, limit: number): Promise<DeliveryRow[]>;
  /**
   * Compare-and-set before sending: counts the attempt (and sets the next one to `nextAttemptAt`) only if the
   * delivery is still pending at `expectAttempts`; false when another sender took or finished it first.
   */
  claim(id: number, expectAttempts: number, nextAttemptAt: number): Promise<boolean>;
  /** Renews a claimed delivery's hold (pending at `attempts`, next attempt pushed to `until`); false once lost. */
  hold(id: number, attempts: number, until: number): Promise<boolean>;
  /**
   * Makes claimed deliveries due now: those pending after an attempt whose next attempt lies in
   * (now, until]. A new leader calls it when it takes the delivery run over from one that is no longer the
   * leader, so what that one had in flight is sent again at once rather than after its hold; a retry backoff
   * that short is brought forward too, which costs one early retry. Returns how many.
   */
  releaseHolds(now: number, until: number): Promise<number>;
  /**
   * Queues the mail of every pending report run that has no delivery (runs created before mails went
   * through the outbox): channel `channel`, event `report.<schedule>`, its attempts and due time kept.
   */
  adoptReportRuns(channel: string, now: number): Promise<number>;
  /** Records a success of the claim at `attempts`; false when another sender has moved the delivery on. */
  markDelivered(id: number, attempts: number, now: number, receipt: string | null): Promise<boolean>;
  /** Records a failed attempt of the claim at `attempts`: pending again (at nextAttemptAt) or failed for good. */
  markAttemptFailed(
    id: number,
    f: { status: 'pending' | 'failed'; attempts: number; lastError: string; nextAttemptAt: number },
  ): Promise<boolean>;
  get(id: number): Promise<DeliveryRow | undefined>;
  list(q: {
    status?: DeliveryStatus | undefined;
    channel?: string | undefined;
    limit: number;
  }): Promise<DeliveryRow[]>;
  /** A failed delivery back to pending, due now; false when it was not failed. */
  requeueFailed(id: number, now: number): Promise<boolean>;
  pendingOf(channel: string, event: string): Promise<{ id: number } | undefined>;
  replacePayload(id: number, payload: string): Promise<void>;
  delete(id: number): Promise<void>;
}

export interface LeaseStore {
  /**
   * Takes or renews the named lease for `holder` until now + ttlMs; true when `holder` holds it afterwards.
   * Another holder's lease is taken over only once it has expired.
   */
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
  get(name: string): Promise<LeaseRow | undefined>;
}

/** A signed-in web UI session (see the ui_sessions schema). */
export interface UiSessionRow {
  idHash: string;
  tokenName: string;
  tokenFingerprint: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export interface UiSessionStore {
  insert(row: UiSessionRow): Promise<void>;
  /** The session, when it exists and has not expired at `now`. */
  get(idHash: string, now: number): Promise<UiSessionRow | undefined>;
  delete(idHash: string): Promise<void>;
  /** Deletes sessions expired before `now`; returns how many. */
  purgeExpired(now: number): Promise<number>;
}

export type ServedState = 'registered' | 'active' | 'shadow' | 'retired';

/** A model version driftwatch serves, without its artifact bytes. */
export interface ServedVersionRow {
  model: string;
  version: string;
  state: ServedState;
  /** JSON manifest. */
  manifest: string;
  sha256: string;
  sizeBytes: number;
  registeredAt: number;
  registeredBy: string | null;
  activatedAt: number | null;
  baselineId: number | null;
}

export interface ModelEventRow {
  model: string;
  at: number;
  actor: string;
  action: string;
  fromVersion: string | null;
  toVersion: string | null;
  note: string | null;
}

export interface ShadowStatsDelta {
  model: string;
  activeVersion: string;
  shadowVersion: string;
  bucketStart: number;
  bucketMs: number;
  n: number;
  agree: number;
  absDiffSum: number;
  activeLatencySum: number;
  shadowLatencySum: number;
  errors: number;
}

export type ShadowStatsRow = Omit<ShadowStatsDelta, 'bucketStart' | 'bucketMs'>;

export interface ServingStore {
  /** Registers a version with its artifact; false when (model, version) is already registered. */
  register(row: ServedVersionRow & { onnx: Buffer }): Promise<boolean>;
  list(model: string): Promise<ServedVersionRow[]>;
  /** Every served model's versions that are active or in shadow (what a process loads). */
  live(): Promise<ServedVersionRow[]>;
  get(model: string, version: string): Promise<ServedVersionRow | undefined>;
  artifact(model: string, version: string): Promise<Buffer | undefined>;
  /**
   * Makes `version` the active one (the previous active becomes registered; a shadow of the same version
   * stops being one). Returns the version that was active before, if any.
   */
  activate(model: string, version: string, now: number): Promise<string | null>;
  /** Sets a non-active version's state (registered, shadow, retired); false when it is the active one. */
  setState(model: string, version: string, state: Exclude<ServedState, 'active'>): Promise<boolean>;
  /** Deletes a version that is not active; false when it is active or unknown. */
  delete(model: string, version: string): Promise<boolean>;
  addEvent(row: ModelEventRow): Promise<void>;
  /** Newest first. */
  events(model: string, limit: number): Promise<(ModelEventRow & { id: number })[]>;
  /** Changes whenever any served version is registered, activated, shadowed or removed, by any process. */
  stamp(): Promise<string>;
  addShadowStats(list: readonly ShadowStatsDelta[], now: number): Promise<void>;
  shadowStats(
    model: string,
    activeVersion: string,
    shadowVersion: string,
    from: number,
    to: number,
  ): Promise<ShadowStatsRow>;
}

/** One half of a KServe request/response pair, waiting for the other (POST /v1/ingest/cloudevents). */
export interface PendingEventRow {
  model: string;
  /** The CloudEvent id, shared by both halves. */
  eventId: string;
  kind: 'request' | 'response';
  receivedAt: number;
  /** The event's `time` attribute (ms), if it had one. */
  eventTime: number | null;
  /** JSON text of the event's data. */
  data: string;
  /** JSON object of the attributes kept as tags. */
  attrs: string;
}

export interface PendingEventStore {
  /**
   * Stores the half unless a row for its (model, eventId) exists. `stored` false: `existing` is that row
   * (the other half, or the same half delivered again), or undefined when it went in the meantime.
   * On PostgreSQL an insert racing another process's uncommitted row waits for it, so two halves
   * arriving at once never both stay pending.
   */
  offer(row: PendingEventRow): Promise<{ stored: boolean; existing?: PendingEventRow }>;
  /** Deletes the half; false when it was not there (already joined or swept). */
  remove(model: string, eventId: string, kind: PendingEventRow['kind']): Promise<boolean>;
  count(): Promise<number>;
  /** Halves received at or before `cutoff`, oldest first. */
  expired(cutoff: number, limit: number): Promise<PendingEventRow[]>;
}

/** One feature's measures in a model version's latest rolling or bucket result (feature_latest). */
export interface FeatureMeasureRow {
  feature: string;
  psi: number | null;
  ksStatistic: number | null;
  ksPvalue: number | null;
  drifted: boolean | null;
}

export interface FeatureLatestRow extends FeatureMeasureRow {
  model: string;
  modelVersion: string;
  windowKind: WindowKind;
  windowTo: number;
  evaluatedAt: number;
}

/** Store-wide state read by GET /metrics at scrape time: a few grouped queries, no JSON parsing. */
export interface MetricsStore {
  /**
   * Makes `rows` the version's latest measures, unless a newer window (by window end, then evaluation time)
   * is already stored; the version's features missing from `rows` (an older baseline's) go.
   */
  putFeatureLatest(
    model: string,
    modelVersion: string,
    window: { kind: WindowKind; to: number; evaluatedAt: number },
    rows: readonly FeatureMeasureRow[],
  ): Promise<void>;
  featureLatest(): Promise<FeatureLatestRow[]>;
  /** Alerts not closed, counted per (model, kind, severity). */
  openAlerts(): Promise<{ model: string; kind: string; severity: string; n: number }[]>;
  retrainRequests(): Promise<{ status: string; n: number }[]>;
  /** Models the store knows (records or a baseline), the earliest first, at most `limit`. */
  knownModels(limit: number): Promise<string[]>;
}

/** skipped: a slot from before the schedule was first seen (never sent, see reports/service.ts). */
export type ReportRunStatus = 'pending' | 'sent' | 'failed' | 'skipped';

/** One scheduled report (a schedule's slot), its rendered message and its delivery. */
export interface ReportRunRow {
  id: number;
  schedule: string;
  /** The scheduled time the run is for. */
  slot: number;
  periodFrom: number;
  periodTo: number;
  status: ReportRunStatus;
  attempts: number;
  nextAttemptAt: number;
  messageId: string | null;
  error: string | null;
  subject: string;
  html: string;
  text: string;
  /** JSON of the inline images: [{cid, filename, alt, base64}]. */
  images: string;
  createdAt: number;
  sentAt: number | null;
  /** The critical alert an immediate mail is about (reports.critical); null for scheduled reports. */
  alertId: number | null;
}

export type NewReportRun = Pick<
  ReportRunRow,
  'schedule' | 'slot' | 'periodFrom' | 'periodTo' | 'subject' | 'html' | 'text' | 'images' | 'createdAt'
>;

export interface ReportRunStore {
  /**
   * Inserts a pending run; undefined when the (schedule, slot) already has one (unique index). Its delivery
   * (channel email) is queued by the caller in the same transaction.
   */
  insert(r: NewReportRun): Promise<ReportRunRow | undefined>;
  /**
   * Stores the mail about a critical alert with no message yet (the email provider renders it before its
   * first attempt); undefined when the alert has a run already (unique per alert).
   */
  insertForAlert(r: {
    alertId: number;
    schedule: string;
    slot: number;
    periodFrom: number;
    periodTo: number;
    createdAt: number;
  }): Promise<ReportRunRow | undefined>;
  /** Stores the rendered message of a run queued without one. */
  setMessage(id: number, m: Pick<ReportRunRow, 'subject' | 'html' | 'text' | 'images'>): Promise<void>;
  /** The run of a schedule's slot, if any (scheduled reports only). */
  find(schedule: string, slot: number): Promise<ReportRunRow | undefined>;
  /** The run about a critical alert, if any. */
  forAlert(alertId: number): Promise<ReportRunRow | undefined>;
  get(id: number): Promise<ReportRunRow | undefined>;
  /**
   * Records a slot that is never sent (status skipped). Sending is recorded through the run's delivery in the
   * outbox (DeliveryStore), which writes its outcome here too.
   */
  markSkipped(id: number, error: string, now: number): Promise<void>;
  list(q: {
    schedule?: string | undefined;
    status?: ReportRunStatus | undefined;
    limit: number;
  }): Promise<ReportRunRow[]>;
}

/** What one transaction can read and write. */
export interface Tx {
  records: RecordStore;
  models: ModelStore;
  aggregates: AggregateStore;
  performance: PerformanceStore;
  baselines: BaselineStore;
  drift: DriftStore;
  thresholds: ThresholdStore;
  alerts: AlertStore;
  deliveries: DeliveryStore;
  leases: LeaseStore;
  serving: ServingStore;
  pendingEvents: PendingEventStore;
  metrics: MetricsStore;
  reportRuns: ReportRunStore;
  uiSessions: UiSessionStore;
  comoments: CoMomentsStore;
  cusums: CusumStore;
}

export interface MigrationStatus {
  applied: number;
  expected: number;
}

/**
 * Leadership of the job registry, held by one process of those sharing a database. `hold` is called every
 * few seconds: it takes leadership when free and confirms it is still held; false means another process
 * leads (or the database cannot be reached), and a leader that sees false must stop running jobs.
 */
export interface LeaderLock {
  /** How leadership is held: a lease row renewed in the store, or a PostgreSQL session advisory lock. */
  readonly mechanism: 'lease' | 'advisory-lock';
  hold(now: number): Promise<boolean>;
  release(): Promise<void>;
  /** The current leader as the database knows it (for logs and GET /v1/jobs), if any. */
  holder(): Promise<{ holder: string; expiresAt: number | null } | undefined>;
}

export interface TxOptions {
  /**
   * `deferred`: the COMMIT does not wait for the disk (SQLite: synchronous=NORMAL for it, so no fsync blocks
   * the event loop; PostgreSQL: synchronous_commit off). A crash of the process loses nothing committed; a
   * crash of the machine can lose the last such commits. Only for work written behind, never acknowledged.
   */
  durability?: 'deferred';
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Where the data lives, without credentials (for logs and /readyz). */
  readonly location: string;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Transactions
   * never interleave on SQLite (one at a time, in order); do not start one inside another — pass `tx` down.
   */
  tx<T>(fn: (tx: Tx) => Promise<T>, options?: TxOptions): Promise<T>;
  /** A read-only transaction (a consistent snapshot). */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  migrationStatus(): Promise<MigrationStatus>;
  /** The job leader's lock for a process identified by `holder`; a dead holder is replaced within `ttlMs`. */
  leaderLock(holder: string, ttlMs: number): LeaderLock;
  isOpen(): boolean;
  close(): Promise<void>;
}

/** Thrown by `store.tx` when called inside another transaction of the same store. */
export class NestedTransactionError extends Error {}
