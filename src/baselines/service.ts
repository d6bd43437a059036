import type { Readable } from 'node:stream';
import { baselineCache } from '../aggregates/baseline-cache.js';
import { thresholdFor } from '../aggregates/performance.js';
import { aggregateRecords } from '../aggregates/service.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { BodyLimit } from '../ingest/body.js';
import { jointProfileBuilder, storeBaselineCoMoments } from '../multivariate/baseline-store.js';
import { CalibrationPairs } from '../profiles/calibration.js';
import {
  type ColumnProfile,
  ProfileBuilder,
  ProfileError,
  type ProfileOptions,
} from '../profiles/profile.js';
import type { ActivationRow, BaselineRow, NewRecord, Tx } from '../store/index.js';
import { CsvRecord, hashing, type TrainingFormat, type TrainingLimits, trainingRows } from './sources.js';

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

export interface CreateBaselineInput {
  model: string;
  modelVersion: string;
  source: Readable;
  format: TrainingFormat;
  profile: ProfileOptions;
  codeCommit?: string | undefined;
  notes?: string | undefined;
  createdBy?: string | undefined;
  /** Undefined: activate when the version has no active baseline yet. */
  activate?: boolean | undefined;
  /** Bounds for uploaded data (from `baselines.*`); rows driftwatch builds from its own records need none. */
  limits?: { bytes: BodyLimit; rows: TrainingLimits } | undefined;
}

/** Progress of the re-aggregation that follows an activation (null once complete). */
export interface RebuildView {
  baseline_id: number;
  records_done: number;
  records_total: number;
  started_at: string;
  started_by: string | null;
}

export interface BaselineView {
  id: number;
  model: string;
  model_version: string | null;
  sha256: string;
  row_count: number;
  code_commit: string | null;
  notes: string | null;
  created_at: string;
  created_by: string | null;
  active: boolean;
  activated_at: string | null;
  /** Set while this baseline's aggregates are being rebuilt after its activation. */
  rebuild: RebuildView | null;
}

export function rebuildView(a: ActivationRow): RebuildView {
  return {
    baseline_id: a.baselineId,
    records_done: a.done,
    records_total: a.total,
    started_at: new Date(a.startedAt).toISOString(),
    started_by: a.startedBy,
  };
}

export function baselineView(row: BaselineRow, activation?: ActivationRow): BaselineView {
  return {
    id: row.id,
    model: row.model,
    model_version: row.modelVersion === '' ? null : row.modelVersion,
    sha256: row.sha256,
    row_count: row.rowCount,
    code_commit: row.codeCommit,
    notes: row.notes,
    created_at: new Date(row.createdAt).toISOString(),
    created_by: row.createdBy,
    active: row.active,
    activated_at: row.activatedAt === null ? null : new Date(row.activatedAt).toISOString(),
    rebuild: activation && activation.baselineId === row.id ? rebuildView(activation) : null,
  };
}

export interface ActivationResult {
  baseline: BaselineView;
  /** Records re-aggregated; all of them once `baseline.rebuild` is null, else the rebuild goes on in the background. */
  reaggregated: number;
}

/** How long an activation request waits for its rebuild before answering 202 and leaving it to the background. */
export const ACTIVATION_WAIT_MS = 10_000;

/** Profiles streamed training data and stores it as a baseline; activates it when asked or when it is the version's first. */
export async function createBaseline(deps: Deps, input: CreateBaselineInput): Promise<ActivationResult> {
  if (input.activate !== false) {
    // Refused before the upload is read: it could not be activated now anyway.
    const running = await deps.store.read((tx) => tx.baselines.activation(input.model));
    if (running) {
      throw new ApiError(
        'conflict',
        `a baseline of model ${input.model} is being activated (baseline ${running.baselineId}); upload with activate=false, or retry when it has finished`,
        { rebuild: rebuildView(running) },
      );
    }
  }
  const hashed = hashing(input.source, input.limits?.bytes);
  const builder = new ProfileBuilder(input.profile);
  const joint = jointProfileBuilder(deps.config, input.model, input.profile);
  // Parsing and profiling give the event loop a turn every few milliseconds, so a large upload does not
  // stall other requests.
  let lastYield = performance.now();
  const maybeYield = async () => {
    if (performance.now() - lastYield < 10) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastYield = performance.now();
  };
  let rows = 0;
  // With label= and prediction=, the (prediction, label) pairs calibrate performance estimation.
  const { label, prediction } = input.profile;
  const pairs = label !== undefined && prediction !== undefined ? new CalibrationPairs() : null;
  let columnsAt = null as { header: readonly string[]; p: number; l: number } | null;
  try {
    for await (const row of trainingRows(hashed.stream, input.format, input.limits?.rows)) {
      if (row instanceof CsvRecord) {
        builder.addValues(row.header, row.values);
        if (pairs) {
          if (columnsAt?.header !== row.header)
            columnsAt = {
              header: row.header,
              p: row.header.indexOf(prediction as string),
              l: row.header.indexOf(label as string),
            };
          if (columnsAt.p >= 0 && columnsAt.l >= 0)
            pairs.add(row.values[columnsAt.p], row.values[columnsAt.l]);
        }
        joint.addValues(row.header, row.values);
      } else {
        builder.addRow(row);
        if (pairs) pairs.add(row[prediction as string], row[label as string]);
        joint.addRow(row);
      }
      if ((++rows & 255) === 0) await maybeYield();
    }
  } catch (err) {
    // Values spilled to disk so far are dropped with the upload (build() drops them otherwise).
    builder.close();
    throw err;
  } finally {
    // A refused upload stops being read here instead of being drained to its end.
    if (!input.source.readableEnded) input.source.destroy();
  }
  let built: Awaited<ReturnType<ProfileBuilder['build']>>;
  try {
    built = await builder.build(async () => {
      lastYield = 0;
      await maybeYield();
    });
  } catch (err) {
    if (err instanceof ProfileError) {
      throw new ApiError('invalid_body', err.message, err.problems ? { problems: err.problems } : undefined);
    }
    throw err;
  }
  const performanceFacts = pairs?.build(thresholdFor(deps.config, input.model, null)) ?? null;
  const columns: { role: 'feature' | 'prediction'; name: string; profile: string }[] = [];
  for (const [name, profile] of built.features)
    columns.push({ role: 'feature', name, profile: JSON.stringify(profile) });
  if (built.prediction)
    columns.push({ role: 'prediction', name: 'prediction', profile: JSON.stringify(built.prediction) });

  const { row, activate } = await deps.store.tx(async (tx) => {
    const row = await tx.baselines.insert(
      {
        model: input.model,
        modelVersion: input.modelVersion,
        sha256: hashed.digest(),
        rowCount: built.rows,
        codeCommit: input.codeCommit ?? null,
        notes: input.notes ?? null,
        options: JSON.stringify(input.profile),
        createdAt: deps.clock(),
        createdBy: input.createdBy ?? null,
        active: false,
        performance: performanceFacts ? JSON.stringify(performanceFacts) : null,
      },
      columns,
    );
    await storeBaselineCoMoments(tx, row.id, joint.build(built.features));
    return {
      row,
      activate: input.activate ?? !(await tx.baselines.hasActive(input.model, input.modelVersion)),
    };
  });
  if (!activate) return { baseline: baselineView(row), reaggregated: 0 };
  try {
    return await activateBaseline(deps, input.model, row.id, input.createdBy ?? null);
  } catch (err) {
    // An activation began while the upload was read: the baseline is stored, inactive; say which one, so a
    // retry activates it instead of uploading again.
    if (err instanceof ApiError && err.code === 'conflict') {
      throw new ApiError(
        'conflict',
        `${err.message}; the upload is stored as baseline ${row.id} (inactive): POST …/baselines/${row.id}/activate later`,
        { baseline_id: row.id },
      );
    }
    throw err;
  }
}

/**
 * Switches the model to the baseline and records the rebuild of its aggregates, in one transaction:
 * the activation row is the lease that allows one activation per model (a second gets 409), and the
 * durable cursor the rebuild resumes from after a crash.
 */
export async function startActivation(
  deps: Deps,
  model: string,
  id: number,
  actor: string | null,
): Promise<ActivationRow> {
  return deps.store.tx((tx) => beginActivationIn(tx, deps, model, id, actor));
}

/** startActivation inside the caller's transaction (a decision records itself and the switch atomically). */
export async function beginActivationIn(
  tx: Tx,
  deps: Deps,
  model: string,
  id: number,
  actor: string | null,
): Promise<ActivationRow> {
  const row = await tx.baselines.get(model, id);
  if (!row) throw new ApiError('not_found', `model ${model} has no baseline ${id}`);
  const running = await tx.baselines.activation(model);
  if (running) {
    throw new ApiError(
      'conflict',
      `a baseline of model ${model} is being activated (baseline ${running.baselineId}, ${running.done} of ${running.total} records rebuilt); retry when it has finished`,
      { rebuild: rebuildView(running) },
    );
  }
  const now = deps.clock();
  await tx.baselines.markActive(row, now);
  const cache = baselineCache(deps.store);
  const entry = await cache.get(tx, model);
  const versions = (await tx.models.versions(model)).filter(
    (v) => (entry.byVersion.get(v) ?? entry.latest)?.id === id,
  );
  await tx.aggregates.clear(model, id);
  await tx.comoments.clear(model, id);
  const maxRecordId = await tx.records.maxId();
  const activation: ActivationRow = {
    model,
    baselineId: id,
    versions: JSON.stringify(versions),
    maxRecordId,
    cursor: 0,
    total: await tx.records.countRebuild(model, versions, maxRecordId),
    done: 0,
    startedAt: now,
    updatedAt: now,
    startedBy: actor,
  };
  // The unique key on model makes this the one activation even when two processes race past the check above.
  if (!(await tx.baselines.beginActivation(activation))) {
    throw new ApiError(
      'conflict',
      `a baseline of model ${model} is being activated; retry when it has finished`,
    );
  }
  return activation;
}

/** Records re-aggregated per transaction: small enough that one page never holds the event loop for long. */
export const REBUILD_PAGE = 2_000;

class CursorMoved extends Error {}

const toRecord = (r: Awaited<ReturnType<Tx['records']['rebuildPage']>>[number]): NewRecord => ({
  model: r.model,
  modelVersion: r.modelVersion,
  requestId: r.requestId,
  ts: r.ts,
  features: JSON.parse(r.features) as NewRecord['features'],
  prediction: r.prediction === null ? null : JSON.parse(r.prediction),
  label: r.label === null ? null : JSON.parse(r.label),
  latencyMs: null,
  status: null,
  error: null,
  tags: null,
});

/**
 * Folds one page of stored records into the new baseline's aggregates and moves the cursor in the same
 * transaction, so a page is counted exactly once whoever runs it (the activating request or the rebuild
 * job after a restart). Returns false when the model has nothing left to rebuild.
 */
export async function rebuildStep(deps: Deps, model: string, pageSize = REBUILD_PAGE): Promise<boolean> {
  try {
    return await deps.store.tx(async (tx) => {
      const a = await tx.baselines.activation(model, { lock: true });
      if (!a) return false;
      const page = await tx.records.rebuildPage(
        model,
        JSON.parse(a.versions) as string[],
        a.cursor,
        a.maxRecordId,
        pageSize,
      );
      if (page.length === 0) {
        await tx.baselines.finishActivation(model);
        return false;
      }
      await aggregateRecords(tx, deps, page.map(toRecord), deps.clock(), {
        bucketStats: false,
        markChanged: false,
      });
      const last = page[page.length - 1]?.id ?? a.cursor;
      if (!(await tx.baselines.advanceActivation(model, a.cursor, last, page.length, deps.clock())))
        throw new CursorMoved();
      return true;
    });
  } catch (err) {
    // Another runner took this page first; its transaction counted it.
    if (err instanceof CursorMoved) return true;
    throw err;
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs a model's rebuild to the end, yielding between pages so requests are served meanwhile. */
export async function runRebuild(deps: Deps, model: string): Promise<number> {
  let pages = 0;
  while (await rebuildStep(deps, model)) {
    pages++;
    await yieldToEventLoop();
  }
  return pages;
}

/**
 * Activates a baseline and rebuilds the aggregates of every model version that now resolves to it. Waits
 * up to `waitMs` for the rebuild; a longer one goes on in the background (and, after a crash, in the
 * rebuild job), with its progress on the baseline's `rebuild`.
 */
export async function activateBaseline(
  deps: Deps,
  model: string,
  id: number,
  actor: string | null = null,
  waitMs = ACTIVATION_WAIT_MS,
): Promise<ActivationResult> {
  const activation = await startActivation(deps, model, id, actor);
  return finishActivation(deps, activation, waitMs);
}

/** Runs a started activation's rebuild, waiting up to `waitMs` before leaving it to the background. */
export async function finishActivation(
  deps: Deps,
  activation: ActivationRow,
  waitMs = ACTIVATION_WAIT_MS,
): Promise<ActivationResult> {
  const { model, baselineId: id } = activation;
  // A failure here is retried by the rebuild job, which resumes from the stored cursor.
  const rebuild = runRebuild(deps, model).then(
    () => true,
    () => false,
  );
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), waitMs);
  });
  await Promise.race([rebuild, waited]);
  clearTimeout(timer);
  return deps.store.read(async (tx) => {
    const row = await tx.baselines.get(model, id);
    if (!row) throw new ApiError('not_found', `model ${model} has no baseline ${id}`);
    const pending = await tx.baselines.activation(model);
    const view = baselineView(row, pending);
    return { baseline: view, reaggregated: view.rebuild ? view.rebuild.records_done : activation.total };
  });
}

export async function listBaselines(deps: Deps, model: string): Promise<BaselineView[]> {
  return deps.store.read(async (tx) => {
    const activation = await tx.baselines.activation(model);
    return (await tx.baselines.list(model)).map((b) => baselineView(b, activation));
  });
}

export async function baselineDetail(deps: Deps, model: string, id: number, includeGrid: boolean) {
  return deps.store.read(async (tx) => {
    const row = await tx.baselines.get(model, id);
    if (!row) throw new ApiError('not_found', `model ${model} has no baseline ${id}`);
    const columns = (await tx.baselines.columns(id)).map((c) => {
      const p = JSON.parse(c.profile) as ColumnProfile;
      if (p.type === 'numeric' && !includeGrid) {
        const { gridEdges: _e, gridCounts: _c, gridSums: _s, ...rest } = p;
        return { role: c.role, name: c.name, ...rest, grid_cells: p.gridCounts.length };
      }
      return { role: c.role, name: c.name, ...p };
    });
    return { ...baselineView(row, await tx.baselines.activation(model)), columns };
  });
}
